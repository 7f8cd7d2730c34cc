//! `--create`: the database's own properties (owner, comment, settings, per-role
//! settings, privileges, connection limit, template flag) come out as pg_dump writes
//! them, in every mode that includes them.
//!
//! Not a fixture: fixtures are loaded into databases the harness names, and these
//! properties name the database.

use pgbm_core::DumpOptions;
use pgbm_testing::PgCluster;

use crate::support::dumptext::assert_same_dump;
use crate::support::tools::pgbm_dump_text;

/// An output mode: pg_dump's arguments and the same on [`DumpOptions`].
type Mode = (&'static [&'static str], fn(&mut DumpOptions));

#[tokio::test]
async fn create_writes_database_properties_like_pg_dump() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_db("dbprops");
    let name = db.name().to_string();
    db.execute_sql(&format!(
        "DO $$ BEGIN CREATE ROLE pgbm_alice; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
         DO $$ BEGIN CREATE ROLE \"pgbm Bob\"; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
         ALTER DATABASE {name} OWNER TO pgbm_alice;
         ALTER DATABASE {name} CONNECTION LIMIT 500;
         COMMENT ON DATABASE {name} IS 'it''s the database';
         ALTER DATABASE {name} SET work_mem = '8MB';
         ALTER DATABASE {name} SET search_path = 'a', \"$user\", public;
         ALTER ROLE \"pgbm Bob\" IN DATABASE {name} SET DateStyle = 'SQL, DMY';
         ALTER ROLE pgbm_alice IN DATABASE {name} SET search_path TO x, y;
         REVOKE TEMPORARY ON DATABASE {name} FROM PUBLIC;
         GRANT CONNECT ON DATABASE {name} TO \"pgbm Bob\" WITH GRANT OPTION;
         GRANT ALL ON DATABASE {name} TO pgbm_alice;
         ALTER DATABASE {name} IS_TEMPLATE true;
         CREATE TABLE t (id integer);
         INSERT INTO t VALUES (1);"
    ))
    .await;
    let modes: [Mode; 6] = [
        (&["--create"], |o| o.create = true),
        (&["--create", "--clean"], |o| {
            o.create = true;
            o.clean = true;
        }),
        (&["--create", "--clean", "--if-exists"], |o| {
            o.create = true;
            o.clean = true;
            o.if_exists = true;
        }),
        (&["--create", "--no-owner", "--no-privileges"], |o| {
            o.create = true;
            o.no_owner = true;
            o.no_privileges = true;
        }),
        (&["--create", "--schema-only"], |o| {
            o.create = true;
            o.schema_only = true;
        }),
        (&["--create", "--data-only"], |o| {
            o.create = true;
            o.data_only = true;
        }),
    ];
    for (args, set) in modes {
        let mut opts = DumpOptions::default();
        set(&mut opts);
        let what = format!("database properties, mode {args:?}");
        let actual = pgbm_dump_text(&db, &opts, &what).await;
        let expected = cluster.pg_dump(&db, args);
        assert_same_dump(&what, "pg_dump", &expected, "pgbm", &actual);
    }
}
