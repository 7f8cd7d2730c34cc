//! A role that is not a superuser but owns its database and everything in it (what a
//! managed service gives its users) can dump the database with pgbm and restore the dump
//! as itself, like `pg_dump` and `pg_dump --no-owner --no-privileges` users do.
//!
//! Each test makes a LOGIN role with a password, two databases it owns, and, connected as
//! the role over TCP (SCRAM), a realistic schema: tables with primary, foreign and unique
//! keys and checks, identity, serial and a sequence, an enum and a domain, SQL and plpgsql
//! functions, a trigger, a view and a materialized view, a partitioned table, indexes,
//! extended statistics, a row-level security policy, a publication, comments, a trusted
//! extension, grants and default privileges, data and a large object.
//!
//! - `nonsuper::restore::SERVER::as_itself` (13-18, Debian's 15): pgbm dumps as the role,
//!   with default options and with `no_owner` and `no_privileges`, and each dump restores
//!   as the role into its other database; the judge pg_dump (as the superuser) then sees
//!   the same schema (`--schema-only`, with `--no-owner --no-privileges` for the second
//!   dump) and data (`--data-only`) in both.
//! - `nonsuper::oracle::SERVER::as_itself` (14-18, Debian's 15): pgbm's dumps as the role
//!   equal pg_dump's as the role, line for line, in both modes: pgbm reads nothing a
//!   non-superuser cannot (pg_authid, pg_user_mapping, pg_subscription's conninfo ...).

use std::process::Command;

use pgbm_core::{ConnOptions, DumpOptions, RestoreOptions};
use pgbm_testing::{PasswordAuth, PasswordRole, PgCluster, TestDb};
use tokio_postgres::NoTls;

use crate::oracle::oracle_version;
use crate::support::dumptext::assert_same_dump;
use crate::support::fixtures::pg_error;
use crate::support::tools::{pgbm_restore, within_limit};
use crate::support::Server;

mod restore {
    per_every_server! {
        #[tokio::test]
        async fn as_itself() {
            super::super::restore_as_itself(SERVER).await;
        }
    }
}

mod oracle {
    per_oracle_server! {
        #[tokio::test]
        async fn as_itself() {
            super::super::same_as_pg_dump(SERVER).await;
        }
    }
}

/// A dump mode: its label, pg_dump's arguments, and how [`DumpOptions`] ask for it.
type Mode = (&'static str, &'static [&'static str], fn(&mut DumpOptions));

/// The two ways a non-superuser dumps: everything (owners are the role itself, grants
/// are its own), and pg_dump's `--no-owner --no-privileges`. Each: a label, pg_dump's
/// arguments, and the [`DumpOptions`] that ask pgbm for the same.
const MODES: [Mode; 2] = [
    ("default", &[], |_| {}),
    (
        "--no-owner --no-privileges",
        &["--no-owner", "--no-privileges"],
        |o| {
            o.no_owner = true;
            o.no_privileges = true;
        },
    ),
];

/// The schema the role builds in its database, as itself.
const SCHEMA: &str = r#"
CREATE SCHEMA shop;
COMMENT ON SCHEMA shop IS 'the shop';
CREATE EXTENSION citext WITH SCHEMA shop;
CREATE TYPE shop.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN shop.positive AS integer CONSTRAINT positive_check CHECK (VALUE > 0);
CREATE SEQUENCE shop.invoice_no START 1000 INCREMENT 5;
CREATE TABLE shop.customer (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email shop.citext NOT NULL UNIQUE,
    mood shop.mood NOT NULL DEFAULT 'ok',
    since date NOT NULL DEFAULT '2024-01-01',
    CONSTRAINT email_check CHECK (email LIKE '%@%')
);
CREATE TABLE shop.orders (
    id bigserial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES shop.customer (id) ON DELETE CASCADE,
    invoice integer NOT NULL DEFAULT nextval('shop.invoice_no'),
    qty shop.positive NOT NULL,
    price numeric(10, 2) NOT NULL CHECK (price >= 0),
    note text,
    updated_at timestamptz,
    UNIQUE (customer_id, invoice)
);
CREATE INDEX orders_customer ON shop.orders (customer_id);
CREATE INDEX customer_domain ON shop.customer ((split_part(email::text, '@', 2)));
COMMENT ON TABLE shop.customer IS 'who buys';
COMMENT ON COLUMN shop.orders.qty IS 'how many';
CREATE FUNCTION shop.total(o shop.orders) RETURNS numeric
    LANGUAGE sql IMMUTABLE AS $$ SELECT o.qty * o.price $$;
CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := '2024-02-01 10:00:00+00';
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION shop.touch() IS 'stamps updated rows';
CREATE TRIGGER orders_touch BEFORE UPDATE ON shop.orders
    FOR EACH ROW EXECUTE FUNCTION shop.touch();
CREATE VIEW shop.order_totals AS
    SELECT c.email, sum(shop.total(o)) AS total
    FROM shop.customer c JOIN shop.orders o ON o.customer_id = c.id
    GROUP BY c.email;
CREATE MATERIALIZED VIEW shop.big_customers AS
    SELECT email FROM shop.order_totals WHERE total > 100;
CREATE UNIQUE INDEX big_customers_email ON shop.big_customers (email);
CREATE TABLE shop.events (id integer NOT NULL, at date NOT NULL, what text)
    PARTITION BY RANGE (at);
CREATE TABLE shop.events_2024 PARTITION OF shop.events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE shop.events_later PARTITION OF shop.events DEFAULT;
CREATE INDEX events_at ON shop.events (at);
INSERT INTO shop.events
    SELECT i, DATE '2024-06-01' + i * 3, 'event ' || i FROM generate_series(1, 200) i;
ALTER TABLE shop.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON shop.orders USING (note IS NOT NULL OR current_user <> 'nobody');
CREATE STATISTICS shop.orders_stats (dependencies) ON customer_id, invoice FROM shop.orders;
CREATE PUBLICATION shop_pub FOR TABLE shop.customer, shop.orders;
ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT ON TABLES TO PUBLIC;
GRANT USAGE ON SCHEMA shop TO PUBLIC;
GRANT SELECT ON shop.order_totals TO PUBLIC;
REVOKE EXECUTE ON FUNCTION shop.total(shop.orders) FROM PUBLIC;
INSERT INTO shop.customer (email, mood)
    SELECT 'c' || i || '@example.com', (ARRAY['sad', 'ok', 'happy'])[1 + i % 3]::shop.mood
    FROM generate_series(1, 50) i;
INSERT INTO shop.orders (customer_id, qty, price, note)
    SELECT 1 + i % 50, 1 + i % 7, (i % 40) * 1.25, CASE WHEN i % 5 = 0 THEN 'note ' || i END
    FROM generate_series(1, 300) i;
UPDATE shop.orders SET note = 'updated' WHERE id % 17 = 0;
REFRESH MATERIALIZED VIEW shop.big_customers;
DO $$
DECLARE
    lo oid := lo_from_bytea(0, convert_to('a large object', 'UTF8'));
BEGIN
    EXECUTE format('COMMENT ON LARGE OBJECT %s IS %L', lo, 'a greeting');
END
$$;
"#;

/// A role with a password, not a superuser, and a database it owns with [`SCHEMA`] in
/// it, built by the role itself.
async fn role_with_database(cluster: &PgCluster) -> (PasswordRole, TestDb) {
    let role = cluster.create_password_role("nonsuper", PasswordAuth::Scram);
    let db = owned_db(cluster, &role, "ns_src").await;
    let client = connect_as(&db, &role).await;
    let superuser: bool = client
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("reading rolsuper: {}", pg_error(&e)))
        .get(0);
    assert!(!superuser, "{} must not be a superuser", role.name());
    if let Err(e) = client.batch_execute(SCHEMA).await {
        panic!("building the schema as {}: {}", role.name(), pg_error(&e));
    }
    (role, db)
}

/// A fresh database owned by `role` (made by the superuser, as a managed service does).
async fn owned_db(cluster: &PgCluster, role: &PasswordRole, prefix: &str) -> TestDb {
    let db = cluster.fresh_db(prefix);
    db.execute_sql(&format!(
        "ALTER DATABASE {} OWNER TO {}",
        db.name(),
        role.name()
    ))
    .await;
    db
}

/// pgbm's connection options for `db` as `role`: TCP with its password.
fn conn_as(db: &TestDb, role: &PasswordRole) -> ConnOptions {
    let mut conn = db.tcp_conn_options();
    conn.set_user(role.name());
    conn.set_password(role.password());
    conn
}

/// A client connected to `db` as `role`, over TCP with its password.
async fn connect_as(db: &TestDb, role: &PasswordRole) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(db.port())
        .user(role.name())
        .password(role.password())
        .dbname(db.name())
        .connect(NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "connecting to {} as {}: {}",
                db.name(),
                role.name(),
                pg_error(&e)
            )
        });
    tokio::spawn(async move {
        // Ends when the client is dropped.
        let _ = connection.await;
    });
    client
}

/// pgbm's dump of `db` as `role` with the options `set` gives.
async fn dump_as(
    db: &TestDb,
    role: &PasswordRole,
    set: fn(&mut DumpOptions),
    what: &str,
) -> String {
    let mut opts = DumpOptions::default();
    set(&mut opts);
    let mut out = Vec::new();
    within_limit(what, pgbm_core::dump(&conn_as(db, role), &opts, &mut out))
        .await
        .unwrap_or_else(|e| panic!("{what}: pgbm dump as {} failed: {e} ({e:?})", role.name()));
    String::from_utf8(out).unwrap_or_else(|e| panic!("{what}: the dump is not UTF-8: {e}"))
}

/// Dumps the role's database as the role in each of [`MODES`], restores each dump as the
/// role into a fresh database it owns, and compares the two through the judge pg_dump.
async fn restore_as_itself(server: Server) {
    let cluster = server.cluster();
    let (role, source) = role_with_database(cluster).await;
    for (mode, args, set) in MODES {
        let what = format!("{server}, a database owned by a non-superuser, mode {mode}");
        let dump = dump_as(&source, &role, set, &what).await;
        let target = owned_db(cluster, &role, "ns_tgt").await;
        pgbm_restore(
            &conn_as(&target, &role),
            &RestoreOptions::default(),
            dump.as_bytes(),
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{what}: pgbm restore as {} failed: {e} ({e:?})",
                role.name()
            )
        });
        let schema: Vec<&str> = ["--schema-only"].iter().chain(args).copied().collect();
        for judge_args in [&schema[..], &["--data-only"][..]] {
            let judge = server.judge_pg_dump();
            let expected = cluster.pg_dump_with(&judge, &source, judge_args);
            let actual = cluster.pg_dump_with(&judge, &target, judge_args);
            let judged = judge_args.join(" ");
            assert_same_dump(
                &format!("{what} ({judged})"),
                &format!("pg_dump {judged} of the source"),
                &expected,
                &format!("pg_dump {judged} of the restored database"),
                &actual,
            );
        }
    }
}

/// pgbm's dumps of the role's database as the role against pg_dump's as the role (of the
/// server's major), in each of [`MODES`].
async fn same_as_pg_dump(server: Server) {
    let pg_dump = oracle_version(server);
    let cluster = server.cluster();
    let (role, source) = role_with_database(cluster).await;
    for (mode, args, set) in MODES {
        let what = format!("{server}, dumped by a non-superuser owner, mode {mode}");
        let actual = dump_as(&source, &role, set, &what).await;
        let expected = pg_dump_as(server, &source, &role, args);
        assert_same_dump(&what, &pg_dump, &expected, "pgbm", &actual);
    }
}

/// `pg_dump args` of `db` as `role`: the server's own pg_dump over TCP with the role's
/// password.
fn pg_dump_as(server: Server, db: &TestDb, role: &PasswordRole, args: &[&str]) -> String {
    let pg_dump = server.judge_pg_dump();
    let out = Command::new(&pg_dump)
        .args(["-h", "127.0.0.1", "-p", &db.port().to_string()])
        .args(["-U", role.name(), "-d", db.name()])
        .args(args)
        .env("PGPASSWORD", role.password())
        .env_remove("PGOPTIONS")
        .env_remove("PGSERVICE")
        .env_remove("PGSERVICEFILE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", pg_dump.display()));
    assert!(
        out.status.success(),
        "{} as {} failed ({}):\n{}",
        pg_dump.display(),
        role.name(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("pg_dump printed invalid UTF-8")
}
