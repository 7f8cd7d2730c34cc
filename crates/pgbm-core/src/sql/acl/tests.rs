//! Golden cases for the ACL builders.
//!
//! Unless marked otherwise, each case is an object of a PostgreSQL 15.18 test database:
//! its ACL and base ACL as the catalogs returned them (`relacl::text[]`,
//! `acldefault('r', relowner)::text[]`, …, with the array quoting removed) and the
//! lines pg_dump 15.18 wrote for it.

use super::*;
use crate::ErrorKind;

const PG15: i32 = 150_018;

/// One object: what `dumpACL` receives and what pg_dump printed.
struct Case {
    kind: &'static str,
    name: &'static str,
    subname: Option<&'static str>,
    namespace: Option<&'static str>,
    owner: Option<&'static str>,
    acl: &'static [&'static str],
    base: &'static [&'static str],
    want: &'static str,
}

/// A case with the owner `postgres`, no schema and no column.
const fn case(
    kind: &'static str,
    name: &'static str,
    acl: &'static [&'static str],
    base: &'static [&'static str],
    want: &'static str,
) -> Case {
    Case {
        kind,
        name,
        subname: None,
        namespace: None,
        owner: Some("postgres"),
        acl,
        base,
        want,
    }
}

/// A case like [`case`] for an object in schema `s1`.
const fn in_s1(
    kind: &'static str,
    name: &'static str,
    acl: &'static [&'static str],
    base: &'static [&'static str],
    want: &'static str,
) -> Case {
    Case {
        namespace: Some("s1"),
        ..case(kind, name, acl, base, want)
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

fn run(c: &Case, version: i32) -> Result<String> {
    let target = AclTarget {
        kind: c.kind,
        name: c.name,
        subname: c.subname,
        namespace: c.namespace,
        owner: c.owner,
    };
    build_acl_commands(&target, &strings(c.acl), &strings(c.base), version)
}

fn check_all(cases: &[Case]) {
    for c in cases {
        let got = run(c, PG15).unwrap();
        assert_eq!(got, c.want, "{} {} ({:?})", c.kind, c.name, c.subname);
    }
}

const TABLE_BASE: &[&str] = &["postgres=arwdDxt/postgres"];
const FUNC_BASE: &[&str] = &["=X/postgres", "postgres=X/postgres"];
const TYPE_BASE: &[&str] = &["=U/postgres", "postgres=U/postgres"];

#[test]
fn tables_match_pg_dump() {
    check_all(&[
        in_s1(
            "TABLE",
            "t",
            &[
                "postgres=arwDxt/postgres",
                "alice=r/postgres",
                "bob=arwdDxt/postgres",
                "\"we ird\"=a*rw*d/postgres",
                "=r/postgres",
                "Carol=a*r*w*d*D*x*t*/postgres",
                "user=rD/postgres",
                "\"a\"\"b\"=rD/postgres",
                "\"x=y/z\"=rD/postgres",
                "\"Ünï\"=rD/postgres",
                "grantor1=x*t*/postgres",
                "alice=t/grantor1",
                "bob=x*/grantor1",
                "\"x=y/z\"=ar/Carol",
                "grantor1=a*r*w*d*D*x*t*/Carol",
            ],
            TABLE_BASE,
            "REVOKE ALL ON TABLE s1.t FROM postgres;
GRANT SELECT,INSERT,REFERENCES,TRIGGER,TRUNCATE,UPDATE ON TABLE s1.t TO postgres;
GRANT SELECT ON TABLE s1.t TO alice;
GRANT ALL ON TABLE s1.t TO bob;
GRANT SELECT,DELETE ON TABLE s1.t TO \"we ird\";
GRANT INSERT,UPDATE ON TABLE s1.t TO \"we ird\" WITH GRANT OPTION;
GRANT SELECT ON TABLE s1.t TO PUBLIC;
GRANT ALL ON TABLE s1.t TO \"Carol\" WITH GRANT OPTION;
GRANT SELECT,TRUNCATE ON TABLE s1.t TO \"user\";
GRANT SELECT,TRUNCATE ON TABLE s1.t TO \"a\"\"b\";
GRANT SELECT,TRUNCATE ON TABLE s1.t TO \"x=y/z\";
GRANT SELECT,TRUNCATE ON TABLE s1.t TO \"Ünï\";
GRANT REFERENCES,TRIGGER ON TABLE s1.t TO grantor1 WITH GRANT OPTION;
SET SESSION AUTHORIZATION grantor1;
GRANT TRIGGER ON TABLE s1.t TO alice;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION grantor1;
GRANT REFERENCES ON TABLE s1.t TO bob WITH GRANT OPTION;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION \"Carol\";
GRANT SELECT,INSERT ON TABLE s1.t TO \"x=y/z\";
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION \"Carol\";
GRANT ALL ON TABLE s1.t TO grantor1 WITH GRANT OPTION;
RESET SESSION AUTHORIZATION;
",
        ),
        // A view: pg_dump calls it TABLE too.
        in_s1(
            "TABLE",
            "v",
            &["postgres=arwdDxt/postgres", "bob=r/postgres"],
            TABLE_BASE,
            "GRANT SELECT ON TABLE s1.v TO bob;\n",
        ),
        // A foreign table.
        in_s1(
            "TABLE",
            "ft",
            &["postgres=arwdDxt/postgres", "alice=r/postgres"],
            TABLE_BASE,
            "GRANT SELECT ON TABLE s1.ft TO alice;\n",
        ),
        in_s1(
            "TABLE",
            "nothing",
            &[],
            TABLE_BASE,
            "REVOKE ALL ON TABLE s1.nothing FROM postgres;\n",
        ),
        // The owner's re-grant comes first although the ACL lists it last.
        in_s1(
            "TABLE",
            "regrant",
            &["alice=r/postgres", "postgres=rw/postgres"],
            TABLE_BASE,
            "REVOKE ALL ON TABLE s1.regrant FROM postgres;
GRANT SELECT,UPDATE ON TABLE s1.regrant TO postgres;
GRANT SELECT ON TABLE s1.regrant TO alice;
",
        ),
        // A grantor whose name is a keyword.
        in_s1(
            "TABLE",
            "ukw",
            &[
                "postgres=arwdDxt/postgres",
                "alice=r/postgres",
                "user=r*/postgres",
                "alice=r/user",
                "Carol=r/user",
            ],
            TABLE_BASE,
            "GRANT SELECT ON TABLE s1.ukw TO alice;
GRANT SELECT ON TABLE s1.ukw TO \"user\" WITH GRANT OPTION;
SET SESSION AUTHORIZATION \"user\";
GRANT SELECT ON TABLE s1.ukw TO alice;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION \"user\";
GRANT SELECT ON TABLE s1.ukw TO \"Carol\";
RESET SESSION AUTHORIZATION;
",
        ),
        // Quoted schema and name, owned by a non-superuser.
        Case {
            kind: "TABLE",
            name: "\"Tab\"",
            subname: None,
            namespace: Some("My Schema"),
            owner: Some("alice"),
            acl: &["alice=rwdDxt/alice", "bob=r/alice"],
            base: &["alice=arwdDxt/alice"],
            want: "REVOKE ALL ON TABLE \"My Schema\".\"Tab\" FROM alice;
GRANT SELECT,REFERENCES,DELETE,TRIGGER,TRUNCATE,UPDATE ON TABLE \"My Schema\".\"Tab\" TO alice;
GRANT SELECT ON TABLE \"My Schema\".\"Tab\" TO bob;
",
        },
    ]);
}

/// A column case: table `s1.t`, base `{}`.
const fn column(sub: &'static str, acl: &'static [&'static str], want: &'static str) -> Case {
    Case {
        subname: Some(sub),
        ..in_s1("TABLE", "t", acl, &[], want)
    }
}

#[test]
fn columns_match_pg_dump() {
    check_all(&[
        column(
            "a",
            &["alice=rw/postgres"],
            "GRANT SELECT(a),UPDATE(a) ON TABLE s1.t TO alice;\n",
        ),
        column(
            "\"select\"",
            &["alice=r/postgres", "\"we ird\"=a*r*w*x*/postgres"],
            "GRANT SELECT(\"select\") ON TABLE s1.t TO alice;
GRANT ALL(\"select\") ON TABLE s1.t TO \"we ird\" WITH GRANT OPTION;
",
        ),
        column(
            "b",
            &[
                "bob=arwx/postgres",
                "Carol=a*x*/postgres",
                "=r/postgres",
                "grantor1=a/Carol",
            ],
            "GRANT ALL(b) ON TABLE s1.t TO bob;
GRANT INSERT(b),REFERENCES(b) ON TABLE s1.t TO \"Carol\" WITH GRANT OPTION;
GRANT SELECT(b) ON TABLE s1.t TO PUBLIC;
SET SESSION AUTHORIZATION \"Carol\";
GRANT INSERT(b) ON TABLE s1.t TO grantor1;
RESET SESSION AUTHORIZATION;
",
        ),
        Case {
            kind: "TABLE",
            name: "\"Col Tab\"",
            subname: Some("\"Mixed Col\""),
            namespace: Some("My Schema"),
            owner: Some("postgres"),
            acl: &["\"x=y/z\"=w/postgres"],
            base: &[],
            want: "GRANT UPDATE(\"Mixed Col\") ON TABLE \"My Schema\".\"Col Tab\" TO \"x=y/z\";\n",
        },
    ]);
}

#[test]
fn sequences_match_pg_dump() {
    const BASE: &[&str] = &["postgres=rwU/postgres"];
    check_all(&[
        in_s1(
            "SEQUENCE",
            "seq",
            &[
                "postgres=rwU/postgres",
                "alice=U/postgres",
                "bob=rwU/postgres",
                "=r/postgres",
                "\"we ird\"=r*w*/postgres",
            ],
            BASE,
            "GRANT USAGE ON SEQUENCE s1.seq TO alice;
GRANT ALL ON SEQUENCE s1.seq TO bob;
GRANT SELECT ON SEQUENCE s1.seq TO PUBLIC;
GRANT SELECT,UPDATE ON SEQUENCE s1.seq TO \"we ird\" WITH GRANT OPTION;
",
        ),
        in_s1(
            "SEQUENCE",
            "seq2",
            &["postgres=rU/postgres"],
            BASE,
            "REVOKE ALL ON SEQUENCE s1.seq2 FROM postgres;
GRANT SELECT,USAGE ON SEQUENCE s1.seq2 TO postgres;
",
        ),
    ]);
}

#[test]
fn routines_match_pg_dump() {
    check_all(&[
        in_s1(
            "FUNCTION",
            "f(integer)",
            &["postgres=X/postgres", "alice=X*/postgres", "bob=X/postgres"],
            FUNC_BASE,
            "REVOKE ALL ON FUNCTION s1.f(integer) FROM PUBLIC;
GRANT ALL ON FUNCTION s1.f(integer) TO alice WITH GRANT OPTION;
GRANT ALL ON FUNCTION s1.f(integer) TO bob;
",
        ),
        in_s1(
            "FUNCTION",
            "g()",
            &["=X/postgres"],
            FUNC_BASE,
            "REVOKE ALL ON FUNCTION s1.g() FROM postgres;\n",
        ),
        in_s1(
            "PROCEDURE",
            "p(IN text)",
            &["postgres=X/postgres", "Carol=X/postgres"],
            FUNC_BASE,
            "REVOKE ALL ON PROCEDURE s1.p(IN text) FROM PUBLIC;
GRANT ALL ON PROCEDURE s1.p(IN text) TO \"Carol\";
",
        ),
        Case {
            namespace: Some("My Schema"),
            ..case(
                "FUNCTION",
                "\"Fn\"(integer, text)",
                &[
                    "postgres=X/postgres",
                    "\"we ird\"=X/postgres",
                    "\"a\"\"b\"=X*/postgres",
                ],
                FUNC_BASE,
                "REVOKE ALL ON FUNCTION \"My Schema\".\"Fn\"(integer, text) FROM PUBLIC;
GRANT ALL ON FUNCTION \"My Schema\".\"Fn\"(integer, text) TO \"we ird\";
GRANT ALL ON FUNCTION \"My Schema\".\"Fn\"(integer, text) TO \"a\"\"b\" WITH GRANT OPTION;
",
            )
        },
    ]);
}

#[test]
fn types_and_languages_match_pg_dump() {
    check_all(&[
        // A domain: pg_dump calls it TYPE.
        in_s1(
            "TYPE",
            "dom",
            &["postgres=U/postgres", "bob=U/postgres"],
            TYPE_BASE,
            "REVOKE ALL ON TYPE s1.dom FROM PUBLIC;
GRANT ALL ON TYPE s1.dom TO bob;
",
        ),
        in_s1(
            "TYPE",
            "ty",
            &["postgres=U/postgres", "alice=U*/postgres"],
            TYPE_BASE,
            "REVOKE ALL ON TYPE s1.ty FROM PUBLIC;
GRANT ALL ON TYPE s1.ty TO alice WITH GRANT OPTION;
",
        ),
        case(
            "LANGUAGE",
            "mylang",
            &["postgres=U/postgres", "alice=U/postgres"],
            TYPE_BASE,
            "REVOKE ALL ON LANGUAGE mylang FROM PUBLIC;
GRANT ALL ON LANGUAGE mylang TO alice;
",
        ),
    ]);
}

#[test]
fn schemas_match_pg_dump() {
    const BASE: &[&str] = &["postgres=UC/postgres"];
    check_all(&[
        case(
            "SCHEMA",
            "s1",
            &[
                "postgres=UC/postgres",
                "alice=U/postgres",
                "grantor1=U/postgres",
                "Carol=U/postgres",
                "bob=C*/postgres",
                "\"we ird\"=UC/postgres",
            ],
            BASE,
            "GRANT USAGE ON SCHEMA s1 TO alice;
GRANT USAGE ON SCHEMA s1 TO grantor1;
GRANT USAGE ON SCHEMA s1 TO \"Carol\";
GRANT CREATE ON SCHEMA s1 TO bob WITH GRANT OPTION;
GRANT ALL ON SCHEMA s1 TO \"we ird\";
",
        ),
        case(
            "SCHEMA",
            "\"My Schema\"",
            &["postgres=UC/postgres", "=UC/postgres"],
            BASE,
            "GRANT ALL ON SCHEMA \"My Schema\" TO PUBLIC;\n",
        ),
        Case {
            owner: Some("alice"),
            ..case(
                "SCHEMA",
                "s2",
                &["alice=U/alice"],
                &["alice=UC/alice"],
                "REVOKE ALL ON SCHEMA s2 FROM alice;
GRANT USAGE ON SCHEMA s2 TO alice;
",
            )
        },
        // The public schema is diffed against its pg_init_privs entry.
        Case {
            owner: Some("pg_database_owner"),
            ..case(
                "SCHEMA",
                "public",
                &[
                    "pg_database_owner=UC/pg_database_owner",
                    "=U/pg_database_owner",
                    "alice=C/pg_database_owner",
                ],
                &[
                    "pg_database_owner=UC/pg_database_owner",
                    "=U/pg_database_owner",
                ],
                "GRANT CREATE ON SCHEMA public TO alice;\n",
            )
        },
    ]);
}

#[test]
fn other_kinds_match_pg_dump() {
    check_all(&[
        case(
            "DATABASE",
            "acl",
            &[
                "postgres=CTc/postgres",
                "alice=c/postgres",
                "Carol=C*T*c*/postgres",
            ],
            &["=Tc/postgres", "postgres=CTc/postgres"],
            "REVOKE CONNECT,TEMPORARY ON DATABASE acl FROM PUBLIC;
GRANT CONNECT ON DATABASE acl TO alice;
GRANT ALL ON DATABASE acl TO \"Carol\" WITH GRANT OPTION;
",
        ),
        case(
            "FOREIGN DATA WRAPPER",
            "w",
            &["postgres=U/postgres", "alice=U*/postgres"],
            &["postgres=U/postgres"],
            "GRANT ALL ON FOREIGN DATA WRAPPER w TO alice WITH GRANT OPTION;\n",
        ),
        case(
            "FOREIGN SERVER",
            "\"Srv\"",
            &["postgres=U/postgres", "bob=U/postgres", "=U/postgres"],
            &["postgres=U/postgres"],
            "GRANT ALL ON FOREIGN SERVER \"Srv\" TO bob;
GRANT ALL ON FOREIGN SERVER \"Srv\" TO PUBLIC;
",
        ),
        case(
            "LARGE OBJECT",
            "4242",
            &[
                "postgres=rw/postgres",
                "alice=r/postgres",
                "bob=r*w*/postgres",
            ],
            &["postgres=rw/postgres"],
            "GRANT SELECT ON LARGE OBJECT 4242 TO alice;
GRANT ALL ON LARGE OBJECT 4242 TO bob WITH GRANT OPTION;
",
        ),
        Case {
            owner: Some("alice"),
            ..case(
                "LARGE OBJECT",
                "4243",
                &["alice=rw/alice", "=w/alice"],
                &["alice=rw/alice"],
                "GRANT UPDATE ON LARGE OBJECT 4243 TO PUBLIC;\n",
            )
        },
    ]);
}

#[test]
fn default_acls_match_pg_dump() {
    // (type, schema, acl, base, owner, pg_dump output)
    type DefaultCase = (
        &'static str,
        Option<&'static str>,
        &'static [&'static str],
        &'static [&'static str],
        &'static str,
        &'static str,
    );
    let cases: &[DefaultCase] = &[
        (
            "TYPES",
            Some("My Schema"),
            &["\"a\"\"b\"=U/\"we ird\""],
            &[],
            "we ird",
            "ALTER DEFAULT PRIVILEGES FOR ROLE \"we ird\" IN SCHEMA \"My Schema\" GRANT ALL ON TYPES  TO \"a\"\"b\";\n",
        ),
        (
            "SEQUENCES",
            Some("s1"),
            &["bob=r*w*U*/postgres"],
            &[],
            "postgres",
            "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA s1 GRANT ALL ON SEQUENCES  TO bob WITH GRANT OPTION;\n",
        ),
        (
            "TABLES",
            Some("s1"),
            &["alice=r/postgres"],
            &[],
            "postgres",
            "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA s1 GRANT SELECT ON TABLES  TO alice;\n",
        ),
        (
            "TYPES",
            None,
            &["Carol=U/Carol"],
            &["=U/Carol", "Carol=U/Carol"],
            "Carol",
            "ALTER DEFAULT PRIVILEGES FOR ROLE \"Carol\" REVOKE ALL ON TYPES  FROM PUBLIC;\n",
        ),
        (
            "FUNCTIONS",
            None,
            &["postgres=X/postgres", "\"we ird\"=X/postgres"],
            FUNC_BASE,
            "postgres",
            "ALTER DEFAULT PRIVILEGES FOR ROLE postgres REVOKE ALL ON FUNCTIONS  FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT ALL ON FUNCTIONS  TO \"we ird\";
",
        ),
        (
            "SCHEMAS",
            None,
            &["bob=UC/Carol", "Carol=UC/Carol"],
            &["Carol=UC/Carol"],
            "Carol",
            "ALTER DEFAULT PRIVILEGES FOR ROLE \"Carol\" GRANT ALL ON SCHEMAS  TO bob;\n",
        ),
        (
            "SCHEMAS",
            None,
            &["alice=U*/bob", "bob=UC/bob"],
            &["bob=UC/bob"],
            "bob",
            "ALTER DEFAULT PRIVILEGES FOR ROLE bob GRANT USAGE ON SCHEMAS  TO alice WITH GRANT OPTION;\n",
        ),
        (
            "TABLES",
            None,
            &["alice=ad/alice"],
            &["alice=arwdDxt/alice"],
            "alice",
            "ALTER DEFAULT PRIVILEGES FOR ROLE alice REVOKE ALL ON TABLES  FROM alice;
ALTER DEFAULT PRIVILEGES FOR ROLE alice GRANT INSERT,DELETE ON TABLES  TO alice;
",
        ),
    ];
    for (kind, schema, acl, base, owner, want) in cases {
        let got =
            build_default_acl_commands(kind, *schema, &strings(acl), &strings(base), owner, PG15)
                .unwrap();
        assert_eq!(got, *want, "{kind} {schema:?} {owner}");
    }
}

// The cases below are not from a pg_dump run; they pin down behaviour read from
// pg_dump's source.

#[test]
fn unchanged_acl_gives_nothing() {
    let c = in_s1("TABLE", "t", TABLE_BASE, TABLE_BASE, "");
    assert_eq!(run(&c, PG15).unwrap(), "");
    let c = in_s1("TABLE", "t", &[], &[], "");
    assert_eq!(run(&c, PG15).unwrap(), "");
}

#[test]
fn without_owner_every_grantor_is_set() {
    let c = Case {
        owner: None,
        ..case("TABLESPACE", "ts", &["postgres=C/postgres"], &[], "")
    };
    assert_eq!(
        run(&c, PG15).unwrap(),
        "SET SESSION AUTHORIZATION postgres;
GRANT ALL ON TABLESPACE ts TO postgres;
RESET SESSION AUTHORIZATION;
"
    );
    // An empty owner name means "unknown" too.
    let c = Case {
        owner: Some(""),
        ..c
    };
    assert!(run(&c, PG15)
        .unwrap()
        .starts_with("SET SESSION AUTHORIZATION postgres;\n"));
}

/// pg_dump 14 (servers before 15) keeps ACL order: the owner's re-grant stays last.
/// From pg_dump 14.23 on a 14.23 server (`privileges.bob_table` of the fixtures).
#[test]
fn before_15_own_grants_keep_acl_order() {
    let bob_table = Case {
        owner: Some("pgbm_bob"),
        namespace: Some("privileges"),
        ..case(
            "TABLE",
            "bob_table",
            &[
                "pgbm_alice=r/pgbm_bob",
                "pgbm_carol=r/pgbm_bob",
                "pgbm_bob=r/pgbm_bob",
            ],
            &["pgbm_bob=arwdDxt/pgbm_bob"],
            "REVOKE ALL ON TABLE privileges.bob_table FROM pgbm_bob;
GRANT SELECT ON TABLE privileges.bob_table TO pgbm_alice;
GRANT SELECT ON TABLE privileges.bob_table TO pgbm_carol;
GRANT SELECT ON TABLE privileges.bob_table TO pgbm_bob;
",
        )
    };
    assert_eq!(run(&bob_table, 140_023).unwrap(), bob_table.want);
    // 15 moves the owner's grant first.
    assert!(run(&bob_table, PG15)
        .unwrap()
        .starts_with("REVOKE ALL ON TABLE privileges.bob_table FROM pgbm_bob;\nGRANT SELECT ON TABLE privileges.bob_table TO pgbm_bob;\n"));
}

#[test]
fn maintain_counts_from_17_on() {
    let full = &["postgres=arwdDxtm/postgres", "alice=arwdDxtm/postgres"];
    let c = in_s1("TABLE", "t", full, &["postgres=arwdDxtm/postgres"], "");
    assert_eq!(
        run(&c, 170_000).unwrap(),
        "GRANT ALL ON TABLE s1.t TO alice;\n"
    );
    // Without `m` a 17 table has no ALL, while the same letters are ALL before 17.
    let c = in_s1("TABLE", "t", &["alice=arwdDxt/postgres"], &[], "");
    assert_eq!(
        run(&c, 170_000).unwrap(),
        "GRANT SELECT,INSERT,REFERENCES,DELETE,TRIGGER,TRUNCATE,UPDATE ON TABLE s1.t TO alice;\n"
    );
    assert_eq!(
        run(&c, 160_000).unwrap(),
        "GRANT ALL ON TABLE s1.t TO alice;\n"
    );
    // Columns never have MAINTAIN.
    let c = column("a", &["alice=arwx/postgres"], "");
    assert_eq!(
        run(&c, 170_000).unwrap(),
        "GRANT ALL(a) ON TABLE s1.t TO alice;\n"
    );
}

#[test]
fn mixed_grant_options_are_split() {
    let c = case("SCHEMA", "s", &["alice=U*C/postgres"], &[], "");
    assert_eq!(
        run(&c, PG15).unwrap(),
        "GRANT CREATE ON SCHEMA s TO alice;
GRANT USAGE ON SCHEMA s TO alice WITH GRANT OPTION;
"
    );
}

#[test]
fn revokes_ignore_grant_options() {
    let c = case(
        "SCHEMA",
        "s",
        &[],
        &["alice=U*C*/postgres", "bob=U*/postgres"],
        "",
    );
    assert_eq!(
        run(&c, PG15).unwrap(),
        "REVOKE ALL ON SCHEMA s FROM alice;
REVOKE USAGE ON SCHEMA s FROM bob;
"
    );
}

#[test]
fn parameters() {
    let c = Case {
        owner: None,
        ..case(
            "PARAMETER",
            "work_mem",
            &["alice=sA/postgres", "bob=A/postgres"],
            &[],
            "",
        )
    };
    assert_eq!(
        run(&c, PG15).unwrap(),
        "SET SESSION AUTHORIZATION postgres;
GRANT ALL ON PARAMETER work_mem TO alice;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION postgres;
GRANT ALTER SYSTEM ON PARAMETER work_mem TO bob;
RESET SESSION AUTHORIZATION;
"
    );
}

#[test]
fn role_names_are_dequoted() {
    let item = parse_item(r#""a""b=c"=r*w/"x=y/z""#).unwrap();
    assert_eq!(
        item,
        AclItem {
            grantee: "a\"b=c".into(),
            grantor: "x=y/z".into(),
            rights: "r*w",
        }
    );
    let item = parse_item("=U/postgres").unwrap();
    assert_eq!(item.grantee, "");
    assert_eq!(item.rights, "U");
    // A quoted `=` belongs to the name; an unterminated quote runs to the end.
    assert_eq!(parse_item(r#"a=r/bob"=""#).unwrap().grantor, "bob=");
    assert_eq!(parse_item(r#"a=r/bob"x"#).unwrap().grantor, "bobx");
    // Quoting may cover only part of a name.
    assert_eq!(parse_item(r#"ab"c d"e=r/x"#).unwrap().grantee, "abc de");
}

#[test]
fn unparsable_items_are_internal_errors() {
    let target = AclTarget {
        kind: "TABLE",
        name: "t",
        subname: None,
        namespace: Some("s1"),
        owner: Some("postgres"),
    };
    for bad in [
        "alice",
        "alice=r",
        "alice=r/bob=x",
        "\"alice=r/bob",
        "alice/r=bob",
        "",
    ] {
        let err = build_acl_commands(&target, &strings(&[bad]), &[], PG15).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal, "{bad}");
        assert!(
            err.to_string().starts_with("could not parse ACL item"),
            "{bad}: {err}"
        );
        // Bad items in the base are reported too.
        let err = build_acl_commands(&target, &[], &strings(&[bad]), PG15).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal, "{bad}");
    }
}

#[test]
fn unknown_kinds_are_internal_errors() {
    for kind in ["DOMAIN", "VIEW", "table", ""] {
        let c = case(kind, "x", &["alice=U/postgres"], &[], "");
        let err = run(&c, PG15).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(err.to_string().contains("unknown ACL object kind"), "{err}");
    }
}
