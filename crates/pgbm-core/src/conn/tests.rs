//! Tests of option parsing, layering and defaults (no server needed).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::resolve::{default_host, Defaults, Endpoint};
use super::tls::{Roots, Verify};
use super::*;
use crate::error::ErrorKind;

/// A machine with OS user `osuser`, home `/home/osuser`, and only `existing` paths.
fn machine(existing: &[&str]) -> Defaults {
    let existing: Vec<PathBuf> = existing.iter().map(PathBuf::from).collect();
    Defaults {
        os_user: Some("osuser".into()),
        home: Some(PathBuf::from("/home/osuser")),
        exists: Box::new(move |p: &Path| existing.iter().any(|e| e == p)),
    }
}

fn parse(s: &str) -> ConnOptions {
    ConnOptions::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn usage_error(result: Result<ConnOptions>) -> String {
    let err = result.expect_err("expected an error");
    assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
    err.to_string()
}

#[test]
fn conninfo_sets_every_supported_keyword() {
    let o = parse(
        "host=db.example port=5433 dbname='a b' user=bob password=pw sslmode=verify-ca \
         sslrootcert=/ca.pem application_name=app connect_timeout=7 passfile=/pp \
         options='-c work_mem=64MB' channel_binding=require fallback_application_name=fb \
         gssencmode=disable",
    );
    assert_eq!(o.host.as_deref(), Some("db.example"));
    assert_eq!(o.port, Some(5433));
    assert_eq!(o.dbname.as_deref(), Some("a b"));
    assert_eq!(o.user.as_deref(), Some("bob"));
    assert_eq!(o.password.as_deref(), Some("pw"));
    assert_eq!(o.sslmode, Some(SslMode::VerifyCa));
    assert_eq!(o.sslrootcert.as_deref(), Some("/ca.pem"));
    assert_eq!(o.application_name(), "app");
    assert_eq!(o.connect_timeout(), Some(Duration::from_secs(7)));
    assert_eq!(o.passfile, Some(PathBuf::from("/pp")));
    assert_eq!(o.options.as_deref(), Some("-c work_mem=64MB"));
    assert_eq!(o.channel_binding, Some(ChannelBinding::Require));
}

#[test]
fn uri_sets_the_same_options() {
    let uri =
        parse("postgresql://bob:p%40ss@[::1]:5433/my%20db?sslmode=require&application_name=x");
    let mut conninfo =
        parse("user=bob password=p@ss host=::1 port=5433 dbname='my db' sslmode=require");
    conninfo.set_application_name("x");
    assert_eq!(uri, conninfo);
}

#[test]
fn later_keywords_override_earlier_ones() {
    assert_eq!(parse("port=1 port=2").port, Some(2));
    assert_eq!(
        parse("postgresql://h:1/db?port=2&host=/tmp")
            .host
            .as_deref(),
        Some("/tmp")
    );
}

#[test]
fn unknown_and_unsupported_keywords_are_usage_errors() {
    assert_eq!(
        usage_error(ConnOptions::parse("host=a colour=blue")),
        "invalid connection option \"colour\""
    );
    assert_eq!(
        usage_error(ConnOptions::parse("postgresql://h/db?colour=blue")),
        "invalid connection option \"colour\""
    );
    assert_eq!(
        usage_error(ConnOptions::parse("sslcert=/c.pem")),
        "connection option \"sslcert\" is not supported by pgbm"
    );
    assert!(usage_error(ConnOptions::parse("gssencmode=require")).contains("not supported"));
}

#[test]
fn invalid_values_are_usage_errors() {
    assert_eq!(
        usage_error(ConnOptions::parse("port=x")),
        "invalid port number: \"x\""
    );
    assert!(usage_error(ConnOptions::parse("port=0")).contains("invalid port"));
    assert!(usage_error(ConnOptions::parse("port=70000")).contains("invalid port"));
    assert!(usage_error(ConnOptions::parse("sslmode=on")).contains("invalid sslmode value"));
    assert!(usage_error(ConnOptions::parse("connect_timeout=soon")).contains("connect_timeout"));
    assert!(usage_error(ConnOptions::parse("channel_binding=maybe")).contains("channel_binding"));
    assert!(usage_error(ConnOptions::parse("host=a,b")).contains("multiple hosts"));
    assert!(usage_error(ConnOptions::parse("port=1,2")).contains("multiple hosts"));
}

#[test]
fn errors_never_contain_the_password() {
    for bad in [
        "password=hunter2 colour=blue",
        "password=hunter2 port=x",
        "password='hunter2",
        "postgresql://u:hunter2@h/db?colour=blue",
        "postgresql://u:hunter2@h:x/db",
        "postgresql://u:hunter2@h/d%zz",
    ] {
        let msg = usage_error(ConnOptions::parse(bad));
        assert!(!msg.contains("hunter2"), "{bad:?} -> {msg}");
    }
}

#[test]
fn debug_redacts_the_password() {
    let o = parse("host=h user=bob password=hunter2");
    let debug = format!("{o:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(debug.contains("bob"), "{debug}");
    assert!(!format!("{:?}", ConnOptions::new()).contains("<redacted>"));
}

#[test]
fn connect_timeout_follows_libpq() {
    assert_eq!(parse("connect_timeout=0").connect_timeout(), None);
    assert_eq!(parse("connect_timeout=-5").connect_timeout(), None);
    assert_eq!(
        parse("connect_timeout=1").connect_timeout(),
        Some(Duration::from_secs(2))
    );
    assert_eq!(ConnOptions::new().connect_timeout(), None);
    // An explicit 0 still overrides a lower layer's timeout.
    let env = ConnOptions::from_env_vars([("PGCONNECT_TIMEOUT", "10")]).expect("env");
    assert_eq!(
        env.merge(parse("connect_timeout=0")).connect_timeout(),
        None
    );
}

#[test]
fn dash_d_is_a_database_name_unless_it_looks_like_a_connection_string() {
    let name = ConnOptions::from_dbname_arg("sales").expect("name");
    assert_eq!(name.dbname.as_deref(), Some("sales"));
    assert_eq!(name.host, None);

    let spaced = ConnOptions::from_dbname_arg("my db").expect("name");
    assert_eq!(spaced.dbname.as_deref(), Some("my db"));

    let conninfo = ConnOptions::from_dbname_arg("dbname=sales host=h").expect("conninfo");
    assert_eq!(conninfo.host.as_deref(), Some("h"));
    let uri = ConnOptions::from_dbname_arg("postgres://h/sales").expect("uri");
    assert_eq!(uri.dbname.as_deref(), Some("sales"));

    assert!(ConnOptions::is_connection_string("a=b"));
    assert!(!ConnOptions::is_connection_string("sales"));
}

#[test]
fn environment_variables_map_to_keywords() {
    let o = ConnOptions::from_env_vars([
        ("PGHOST", "envhost"),
        ("PGPORT", "6000"),
        ("PGUSER", "envuser"),
        ("PGPASSWORD", "envpw"),
        ("PGDATABASE", "envdb"),
        ("PGSSLMODE", "require"),
        ("PGSSLROOTCERT", "/env/ca.pem"),
        ("PGPASSFILE", "/env/pgpass"),
        ("PGAPPNAME", "envapp"),
        ("PGCONNECT_TIMEOUT", "9"),
        ("PGOPTIONS", "-c x=y"),
        ("PGCHANNELBINDING", "disable"),
        ("HOME", "/ignored"),
        ("PGSERVICE", "unsupported-but-only-warned"),
    ])
    .expect("env");
    assert_eq!(o.host.as_deref(), Some("envhost"));
    assert_eq!(o.port, Some(6000));
    assert_eq!(o.user.as_deref(), Some("envuser"));
    assert_eq!(o.password.as_deref(), Some("envpw"));
    assert_eq!(o.dbname.as_deref(), Some("envdb"));
    assert_eq!(o.sslmode, Some(SslMode::Require));
    assert_eq!(o.sslrootcert.as_deref(), Some("/env/ca.pem"));
    assert_eq!(o.passfile, Some(PathBuf::from("/env/pgpass")));
    assert_eq!(o.application_name(), "envapp");
    assert_eq!(o.connect_timeout(), Some(Duration::from_secs(9)));
    assert_eq!(o.options.as_deref(), Some("-c x=y"));
    assert_eq!(o.channel_binding, Some(ChannelBinding::Disable));
}

#[test]
fn empty_environment_variables_count_as_unset() {
    let o = ConnOptions::from_env_vars([("PGHOST", ""), ("PGPORT", "")]).expect("env");
    assert_eq!(o, ConnOptions::new());
}

#[test]
fn bad_environment_values_name_the_variable() {
    assert_eq!(
        usage_error(ConnOptions::from_env_vars([("PGPORT", "abc")])),
        "PGPORT: invalid port number: \"abc\""
    );
    assert!(
        usage_error(ConnOptions::from_env_vars([("PGSSLMODE", "yes")])).starts_with("PGSSLMODE: ")
    );
}

#[test]
fn precedence_defaults_then_env_then_flags_then_dash_d() {
    let env = ConnOptions::from_env_vars([
        ("PGHOST", "envhost"),
        ("PGPORT", "6000"),
        ("PGUSER", "envuser"),
        ("PGDATABASE", "envdb"),
        ("PGPASSWORD", "envpw"),
    ])
    .expect("env");
    let mut flags = ConnOptions::new();
    flags.set_host("flaghost");
    flags.set_user("flaguser");
    let dash_d = ConnOptions::from_dbname_arg("host=dhost dbname=ddb").expect("-d");

    let o = env.merge(flags).merge(dash_d);
    assert_eq!(
        o.host.as_deref(),
        Some("dhost"),
        "-d conninfo beats -h, as in psql"
    );
    assert_eq!(o.user.as_deref(), Some("flaguser"), "-U beats PGUSER");
    assert_eq!(
        o.port,
        Some(6000),
        "PGPORT applies when nothing else sets a port"
    );
    assert_eq!(o.dbname.as_deref(), Some("ddb"));
    assert_eq!(o.password.as_deref(), Some("envpw"));

    // Nothing anywhere: the defaults.
    let d = machine(&["/var/run/postgresql"]);
    let none = ConnOptions::new();
    assert_eq!(
        none.describe_with(&d),
        "osuser@/var/run/postgresql:5432/osuser"
    );
}

#[test]
fn dbname_defaults_to_the_effective_user() {
    let d = machine(&[]);
    let mut o = ConnOptions::new();
    assert_eq!(o.effective_dbname(&d).as_deref(), Some("osuser"));
    o.set_user("bob");
    assert_eq!(o.effective_dbname(&d).as_deref(), Some("bob"));
    o.set_dbname("sales");
    assert_eq!(o.effective_dbname(&d).as_deref(), Some("sales"));
}

#[test]
fn default_host_prefers_a_socket_that_exists() {
    let none = |_: &Path| false;
    assert_eq!(default_host(5432, &none), "localhost");

    let debian_dir = |p: &Path| p == Path::new("/var/run/postgresql");
    assert_eq!(default_host(5432, &debian_dir), "/var/run/postgresql");

    let tmp_socket = |p: &Path| p == Path::new("/tmp/.s.PGSQL.5433");
    assert_eq!(default_host(5433, &tmp_socket), "/tmp");
    assert_eq!(default_host(5432, &tmp_socket), "localhost");

    let both =
        |p: &Path| p == Path::new("/var/run/postgresql") || p == Path::new("/tmp/.s.PGSQL.5432");
    assert_eq!(
        default_host(5432, &both),
        "/tmp",
        "the directory holding the socket wins"
    );
}

#[test]
fn describe_has_no_secrets_and_brackets_ipv6() {
    let d = machine(&[]);
    let o = parse("host=db.example port=5433 user=bob password=hunter2 dbname=sales");
    assert_eq!(o.describe_with(&d), "bob@db.example:5433/sales");
    let v6 = parse("postgresql://bob:hunter2@[::1]/x");
    assert_eq!(v6.describe_with(&d), "bob@[::1]:5432/x");
}

#[test]
fn with_dbname_keeps_everything_else() {
    let o = parse("host=h port=1 user=u password=p sslmode=require dbname=a");
    let other = o.with_dbname("b");
    assert_eq!(other.dbname.as_deref(), Some("b"));
    assert_eq!(other.clone().merge(parse("dbname=a")), o);
}

#[test]
fn setters_and_accessors() {
    let mut o = ConnOptions::new();
    o.set_host("/run/pg");
    o.set_port(5499);
    o.set_user("u");
    o.set_dbname("d");
    assert_eq!(o.host(), "/run/pg");
    assert_eq!(o.port(), 5499);
    assert_eq!(o.user(), "u");
    assert_eq!(o.dbname(), "d");
    assert!(!o.has_password());
    o.set_password("x");
    assert!(o.has_password());
    o.set_password("");
    assert!(!o.has_password(), "empty unsets");
    o.set_host("");
    assert_eq!(o.host, None);
    assert_eq!(ConnOptions::new().port(), 5432);
    assert_eq!(ConnOptions::new().application_name(), "pgbm");
    assert_eq!(
        parse("fallback_application_name=fb").application_name(),
        "fb"
    );
    assert_eq!(
        parse("fallback_application_name=fb application_name=app").application_name(),
        "app"
    );
}

#[test]
fn sslmode_accessor_and_system_roots() {
    assert_eq!(ConnOptions::new().sslmode(), SslMode::Prefer);
    assert_eq!(parse("sslrootcert=system").sslmode(), SslMode::VerifyFull);
    assert_eq!(parse("sslmode=disable").sslmode(), SslMode::Disable);
}

#[test]
fn resolve_applies_defaults() {
    let d = machine(&["/var/run/postgresql"]);
    let t = ConnOptions::new().resolve(&d).expect("resolve");
    assert_eq!(
        t.endpoint,
        Endpoint::Unix(PathBuf::from("/var/run/postgresql"))
    );
    assert_eq!(t.port, 5432);
    assert_eq!(t.user, "osuser");
    assert_eq!(t.dbname, "osuser");
    assert_eq!(t.passfile, Some(PathBuf::from("/home/osuser/.pgpass")));
    assert_eq!(t.application_name, "pgbm");
    assert_eq!(t.tls.mode, SslMode::Disable, "no TLS on Unix sockets");
    assert_eq!(
        t.server_label(),
        "server on socket \"/var/run/postgresql/.s.PGSQL.5432\""
    );
}

#[test]
fn resolve_uses_libpq_default_root_certificate() {
    let d = machine(&["/home/osuser/.postgresql/root.crt"]);
    let t = parse("host=db sslmode=require")
        .resolve(&d)
        .expect("resolve");
    assert_eq!(
        t.tls.roots,
        Some(Roots::File(PathBuf::from(
            "/home/osuser/.postgresql/root.crt"
        )))
    );
    assert_eq!(t.tls.verify, Verify::Chain);
    assert_eq!(t.endpoint, Endpoint::Tcp("db".into()));
    assert_eq!(t.server_label(), "server at db:5432");
    let t = parse("host=db").resolve(&machine(&[])).expect("resolve");
    assert_eq!(t.tls.mode, SslMode::Prefer);
    assert_eq!(t.tls.verify, Verify::Nothing);

    let err = parse("host=db sslmode=verify-full")
        .resolve(&machine(&[]))
        .expect_err("no root");
    assert_eq!(err.kind(), ErrorKind::Usage);
}

#[test]
fn resolve_without_os_user_needs_an_explicit_user() {
    let mut d = machine(&[]);
    d.os_user = None;
    let err = ConnOptions::new().resolve(&d).expect_err("no user");
    assert_eq!(err.kind(), ErrorKind::Usage);
    parse("user=bob").resolve(&d).expect("explicit user");
}

#[test]
fn password_file_host_follows_libpq() {
    let d = machine(&["/var/run/postgresql"]);
    let host_of = |s: &str| parse(s).resolve(&d).expect("resolve").pgpass_host;
    assert_eq!(host_of(""), "localhost", "default socket directory");
    assert_eq!(host_of("host=/var/run/postgresql"), "localhost");
    assert_eq!(host_of("host=/var/run/postgresql/"), "localhost");
    assert_eq!(host_of("host=/tmp"), "localhost");
    assert_eq!(
        host_of("host=/srv/pg"),
        "/srv/pg",
        "other socket dirs match as written"
    );
    assert_eq!(host_of("host=db.example"), "db.example");
    assert_eq!(host_of("host=127.0.0.1"), "127.0.0.1");
    assert_eq!(
        parse("host=h")
            .resolve(&machine(&[]))
            .expect("resolve")
            .pgpass_host,
        "h"
    );
    assert_eq!(
        ConnOptions::new()
            .resolve(&machine(&[]))
            .expect("resolve")
            .pgpass_host,
        "localhost",
        "no socket directory: TCP to localhost"
    );
}

#[test]
fn passfile_option_overrides_home() {
    let d = machine(&[]);
    let t = parse("passfile=/etc/pgpass").resolve(&d).expect("resolve");
    assert_eq!(t.passfile, Some(PathBuf::from("/etc/pgpass")));
    let mut no_home = machine(&[]);
    no_home.home = None;
    assert_eq!(
        ConnOptions::new()
            .resolve(&no_home)
            .expect("resolve")
            .passfile,
        None
    );
}

#[test]
fn unix_sockets_ignore_tls_options() {
    let d = machine(&[]);
    let t = parse("host=/srv/pg sslmode=verify-full")
        .resolve(&d)
        .expect("resolve");
    assert_eq!(t.tls.mode, SslMode::Disable);
    let err = parse("host=db sslmode=verify-full")
        .resolve(&d)
        .expect_err("tcp needs a root");
    assert_eq!(err.kind(), ErrorKind::Usage);
}
