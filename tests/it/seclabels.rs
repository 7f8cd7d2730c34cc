//! Security labels: pgbm writes them where and as pg_dump does.
//!
//! Not a fixture: setting a label needs a label provider module (sepgsql needs SELinux;
//! the test modules are not installed), so this module writes the labels straight into
//! `pg_seclabel` and `pg_shseclabel` as a superuser may, and compares the dumps with the
//! server's own pg_dump, which reads them from the same catalogs. Such a dump cannot be
//! restored without the provider, so there is no round trip here.

use pgbm_core::DumpOptions;
use pgbm_testing::TestDb;

use crate::support::dumptext::assert_same_dump;
use crate::support::tools::pgbm_dump_text;
use crate::support::Server;

per_oracle_server! {
    #[tokio::test]
    async fn labels_match_pg_dump() {
        super::labels_match_pg_dump(SERVER).await;
    }
}

/// Objects of every kind pg_dump labels, each with a label.
const SETUP: &str = "
    CREATE SCHEMA sl;
    CREATE TABLE sl.t (id integer PRIMARY KEY, note text);
    INSERT INTO sl.t VALUES (1, 'one');
    CREATE VIEW sl.v AS SELECT id FROM sl.t;
    CREATE SEQUENCE sl.s;
    CREATE MATERIALIZED VIEW sl.mv AS SELECT id FROM sl.t;
    CREATE TYPE sl.mood AS ENUM ('sad', 'happy');
    CREATE TYPE sl.pair AS (a integer, b text);
    CREATE DOMAIN sl.posint AS integer CHECK (VALUE > 0);
    CREATE FUNCTION sl.f(integer) RETURNS integer LANGUAGE sql AS 'SELECT $1';
    CREATE PROCEDURE sl.p() LANGUAGE sql AS 'SELECT 1';
    CREATE AGGREGATE sl.agg(integer) (SFUNC = int4pl, STYPE = integer);
    CREATE FUNCTION sl.pl_handler() RETURNS language_handler
        LANGUAGE c AS '$libdir/plpgsql', 'plpgsql_call_handler';
    CREATE LANGUAGE sl_pl HANDLER sl.pl_handler;
    SELECT pg_catalog.lo_create(4343001);
    CREATE TEMP TABLE labelled (classid regclass, objid oid, subid integer);
    INSERT INTO labelled VALUES
        ('pg_namespace', 'sl'::regnamespace, 0),
        ('pg_class', 'sl.t'::regclass, 0),
        ('pg_class', 'sl.t'::regclass, 2),
        ('pg_class', 'sl.v'::regclass, 0),
        ('pg_class', 'sl.s'::regclass, 0),
        ('pg_class', 'sl.mv'::regclass, 0),
        ('pg_type', 'sl.mood'::regtype, 0),
        ('pg_type', 'sl.pair'::regtype, 0),
        ('pg_type', 'sl.posint'::regtype, 0),
        ('pg_proc', 'sl.f(integer)'::regprocedure, 0),
        ('pg_proc', 'sl.p()'::regprocedure, 0),
        ('pg_proc', 'sl.agg(integer)'::regprocedure, 0),
        ('pg_language', (SELECT oid FROM pg_language WHERE lanname = 'sl_pl'), 0),
        ('pg_largeobject', 4343001, 0);
    -- One provider per object (pg_dump leaves several providers' labels on one object
    -- in the server's unspecified sort order), two providers in all.
    INSERT INTO pg_catalog.pg_seclabel (objoid, classoid, objsubid, provider, label)
        SELECT objid, classid, subid,
               CASE WHEN subid = 0 AND classid <> 'pg_proc'::regclass THEN 'dummy' ELSE 'another' END,
               CASE WHEN subid = 0 THEN 'unclassified' ELSE 'it''s secret' END
        FROM labelled;
    INSERT INTO pg_catalog.pg_shseclabel (objoid, classoid, provider, label)
        SELECT oid, 'pg_database'::regclass, 'dummy', 'classified'
        FROM pg_database WHERE datname = current_database();
";

/// An output mode: pg_dump's arguments and the same on [`DumpOptions`].
type Mode = (&'static [&'static str], fn(&mut DumpOptions));

async fn labels_match_pg_dump(server: Server) {
    let db: TestDb = server.cluster().fresh_db("seclabels");
    db.execute_sql(SETUP).await;
    let modes: [Mode; 5] = [
        (&[], |_| {}),
        (&["--create"], |o| o.create = true),
        (&["--schema-only"], |o| o.schema_only = true),
        (&["--data-only"], |o| o.data_only = true),
        (&["--clean", "--if-exists"], |o| {
            o.clean = true;
            o.if_exists = true;
        }),
    ];
    for (args, set) in modes {
        let mut opts = DumpOptions::default();
        set(&mut opts);
        let what = format!("security labels on {server}, mode {args:?}");
        let actual = pgbm_dump_text(&db, &opts, &what).await;
        assert!(
            args.contains(&"--data-only") || actual.contains("SECURITY LABEL FOR dummy ON TABLE"),
            "{what}: no labels in the dump"
        );
        let expected = server.cluster().pg_dump(&db, args);
        assert_same_dump(&what, "pg_dump", &expected, "pgbm", &actual);
    }
}
