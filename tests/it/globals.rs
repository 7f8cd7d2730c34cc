//! `--globals-only`: pgbm's dump of roles, memberships, parameter privileges and
//! tablespaces equals `pg_dumpall --globals-only` of the cluster's own major, in every
//! mode pg_dumpall has for them.
//!
//! Roles and tablespaces belong to the whole cluster, and other tests create roles in
//! the shared one at any time, so this test starts a private cluster.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use pgbm_core::DumpOptions;
use pgbm_testing::{PgCluster, TestDb};

use crate::support::dumptext::assert_same_dump;
use crate::support::tools::pgbm_dump_text;

/// An output mode: pg_dumpall's arguments and the same on [`DumpOptions`].
type Mode = (&'static [&'static str], fn(&mut DumpOptions));

/// Roles with every attribute, a password, an expiry, a comment and settings;
/// memberships with admin option, a non-superuser grantor and (16+) grant options;
/// parameter privileges (15+); a tablespace with options, a grant and a comment.
/// One statement per item: CREATE TABLESPACE cannot run in a transaction block.
fn setup_sql(major: u32, tablespace_dir: &str) -> Vec<String> {
    let mut sql: Vec<String> = [
        "CREATE ROLE pgbm_g_login LOGIN PASSWORD 'secret' VALID UNTIL '2030-01-01 12:00:00+00' \
         CONNECTION LIMIT 5 CREATEDB REPLICATION BYPASSRLS NOINHERIT",
        "CREATE ROLE \"pgbm G Admin\" CREATEROLE",
        "CREATE ROLE pgbm_g_group",
        "CREATE ROLE pgbm_g_super SUPERUSER",
        "COMMENT ON ROLE pgbm_g_login IS 'can log in, it''s true'",
        "ALTER ROLE pgbm_g_login SET search_path = a, \"$user\", \"we\"\"ird\"",
        "ALTER ROLE pgbm_g_login SET work_mem = '16MB'",
        "ALTER ROLE \"pgbm G Admin\" SET pgbm.custom = 'back\\slash'",
        "GRANT pgbm_g_group TO \"pgbm G Admin\" WITH ADMIN OPTION",
        "GRANT pgbm_g_group TO pgbm_g_login GRANTED BY \"pgbm G Admin\"",
        "GRANT pgbm_g_login TO pgbm_g_super",
        "GRANT pg_read_all_data TO pgbm_g_group",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    sql.push(format!(
        "CREATE TABLESPACE \"pgbm TS\" OWNER pgbm_g_login LOCATION '{tablespace_dir}'"
    ));
    sql.extend(
        [
            "ALTER TABLESPACE \"pgbm TS\" SET (seq_page_cost = 2, random_page_cost = 3)",
            "GRANT CREATE ON TABLESPACE \"pgbm TS\" TO pgbm_g_group",
            "COMMENT ON TABLESPACE \"pgbm TS\" IS 'fast disk'",
            // Security labels, written into the catalog: no label provider is
            // installed to set them with SECURITY LABEL.
            "INSERT INTO pg_catalog.pg_shseclabel (objoid, classoid, provider, label) VALUES \
             ('pgbm_g_group'::regrole, 'pg_authid'::regclass, 'dummy', 'it''s a group'), \
             ((SELECT oid FROM pg_tablespace WHERE spcname = 'pgbm TS'), \
              'pg_tablespace'::regclass, 'dummy', 'fast')",
        ]
        .map(String::from),
    );
    if major >= 15 {
        sql.push("GRANT SET ON PARAMETER work_mem TO pgbm_g_group".into());
        sql.push(
            "GRANT ALTER SYSTEM ON PARAMETER shared_buffers TO \"pgbm G Admin\" WITH GRANT OPTION"
                .into(),
        );
    }
    if major >= 16 {
        sql.push("GRANT pgbm_g_group TO pgbm_g_super WITH INHERIT FALSE, SET FALSE".into());
    }
    sql
}

/// An empty directory the server's user owns, for the tablespace.
fn tablespace_dir(cluster: &PgCluster) -> String {
    let meta = std::fs::metadata(cluster.data_dir()).expect("reading the data directory");
    let dir = cluster
        .data_dir()
        .parent()
        .expect("the data directory has a parent")
        .join("pgbm_ts");
    std::fs::create_dir_all(&dir).expect("creating the tablespace directory");
    std::os::unix::fs::chown(&dir, Some(meta.uid()), Some(meta.gid()))
        .expect("giving the tablespace directory to the server's user");
    dir.to_string_lossy().into_owned()
}

/// `pg_dumpall --globals-only args` of `cluster`.
fn pg_dumpall(cluster: &PgCluster, db: &TestDb, args: &[&str]) -> String {
    let program = cluster.tool("pg_dumpall").unwrap_or_else(|| {
        panic!(
            "{} has no pg_dumpall: install the PostgreSQL {} client next to the server",
            cluster.bindir().display(),
            cluster.version()
        )
    });
    let out = Command::new(program)
        .arg("-h")
        .arg(cluster.socket_dir())
        .args(["-p", &cluster.port().to_string(), "-U", "postgres"])
        .args(["-l", db.name(), "--globals-only"])
        .args(args)
        .env_remove("PGOPTIONS")
        .output()
        .expect("running pg_dumpall");
    assert!(
        out.status.success(),
        "pg_dumpall failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("pg_dumpall printed UTF-8")
}

#[tokio::test]
async fn globals_match_pg_dumpall_in_every_mode() {
    let cluster = PgCluster::start();
    let db = cluster.db("postgres");
    for statement in setup_sql(cluster.version(), &tablespace_dir(&cluster)) {
        db.execute_sql(&statement).await;
    }
    let modes: [Mode; 7] = [
        (&[], |_| {}),
        (&["--clean"], |o| o.clean = true),
        (&["--clean", "--if-exists"], |o| {
            o.clean = true;
            o.if_exists = true;
        }),
        (&["--no-privileges"], |o| o.no_privileges = true),
        (&["--no-comments"], |o| o.no_comments = true),
        (&["--no-role-passwords"], |o| o.no_role_passwords = true),
        (&["--data-only"], |o| o.data_only = true),
    ];
    for (args, set) in modes {
        let mut opts = DumpOptions::default();
        opts.globals_only = true;
        set(&mut opts);
        let what = format!("globals, mode {args:?}");
        let actual = pgbm_dump_text(&db, &opts, &what).await;
        let expected = pg_dumpall(&cluster, &db, args);
        assert_same_dump(&what, "pg_dumpall", &expected, "pgbm", &actual);
        if args.is_empty() {
            for label in ["ON ROLE pgbm_g_group IS", "ON TABLESPACE \"pgbm TS\" IS"] {
                assert!(actual.contains(label), "{what}: no label {label}\n{actual}");
            }
        }
    }
}

#[tokio::test]
async fn globals_reject_database_selection_options() {
    let cluster = PgCluster::shared();
    let db = cluster.db("postgres");
    let mut opts = DumpOptions::default();
    opts.globals_only = true;
    opts.schemas.push("public".into());
    let err = crate::support::tools::pgbm_dump(&db, &opts)
        .await
        .expect_err("-n with --globals-only must fail");
    assert_eq!(err.kind(), pgbm_core::ErrorKind::Usage, "{err}");
    let mut opts = DumpOptions::default();
    opts.no_role_passwords = true;
    let err = crate::support::tools::pgbm_dump(&db, &opts)
        .await
        .expect_err("--no-role-passwords needs --globals-only");
    assert_eq!(err.kind(), pgbm_core::ErrorKind::Usage, "{err}");
}
