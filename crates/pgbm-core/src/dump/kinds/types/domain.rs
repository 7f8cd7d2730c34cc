//! Domains and their constraints (pg_dump's `dumpDomain`, `getDomainConstraints` and
//! the domain branches of `dumpConstraint` and `repairDependencyLoop`).
//!
//! A validated constraint is written inside CREATE DOMAIN, and the domain depends on
//! it, so that whatever the constraint needs comes first; a NOT VALID one (or one a
//! loop repair splits out) is a post-data `ALTER DOMAIN ... ADD CONSTRAINT` entry.
//! On 17+ a domain's NOT NULL is a constraint too (`contype 'n'`), written as
//! `NOT NULL` or `CONSTRAINT name NOT NULL`.

use super::{collation_name, index_by_oid, type_entries, Item, TypeHead, Types};
use crate::dump::catalog::{byte, oid, query};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::kinds::KindPayload;
use crate::dump::model::{catalog_oid, Graph, ObjId, ObjKind, Payload, Tiebreak};
use crate::error::Result;
use crate::sql::{quote_ident, quote_literal};
use tokio_postgres::Client;

/// A domain.
#[derive(Debug, Clone)]
pub(crate) struct Domain {
    pub head: TypeHead,
    /// `format_type` of the base type with its typmod.
    pub base: String,
    /// `typnotnull` (before 17 the only record of NOT NULL).
    pub not_null: bool,
    /// The DEFAULT clause's text: a deparsed expression or a quoted literal.
    pub default: Option<String>,
    /// Qualified, quoted collation when it differs from the base type's.
    pub collation: Option<String>,
    /// CHECK (and 17+ NOT NULL) constraints, by name.
    pub constraints: Vec<DomainConstraint>,
}

/// A constraint of a domain.
#[derive(Debug, Clone)]
pub(crate) struct DomainConstraint {
    pub oid: u32,
    pub name: String,
    /// `pg_get_constraintdef`: `CHECK ((VALUE > 0))`, `NOT NULL`, ... `NOT VALID`.
    pub def: String,
    pub validated: bool,
    /// `c` (CHECK) or `n` (NOT NULL, 17+).
    pub kind: u8,
}

impl Domain {
    /// A domain whose details are still to be read.
    pub(crate) fn new(head: TypeHead) -> Self {
        Domain {
            head,
            base: String::new(),
            not_null: false,
            default: None,
            collation: None,
            constraints: Vec::new(),
        }
    }
}

/// Reads the details and constraints of all domains.
pub(crate) async fn read(client: &Client, version: i32, types: &mut Types) -> Result<()> {
    if types.domains.is_empty() {
        return Ok(());
    }
    let by_oid = index_by_oid(types.domains.iter().map(|d| &d.head));
    let sql = "SELECT t.oid, t.typnotnull, \
               pg_catalog.format_type(t.typbasetype, t.typtypmod) AS typdefn, \
               pg_catalog.pg_get_expr(t.typdefaultbin, 'pg_catalog.pg_type'::pg_catalog.regclass) AS typdefaultbin, \
               t.typdefault, cn.nspname AS collnsp, co.collname \
               FROM pg_catalog.pg_type t \
               LEFT JOIN pg_catalog.pg_type u ON t.typbasetype = u.oid \
               LEFT JOIN pg_catalog.pg_collation co ON co.oid = t.typcollation \
                    AND t.typcollation <> u.typcollation \
               LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
               WHERE t.typtype = 'd' AND t.oid >= 16384";
    for row in query(client, "domains", sql, &[]).await? {
        let Some(&i) = by_oid.get(&oid(&row, "oid")) else {
            continue;
        };
        let d = &mut types.domains[i];
        d.base = row.get("typdefn");
        d.not_null = row.get("typnotnull");
        let expr: Option<String> = row.get("typdefaultbin");
        let literal: Option<String> = row.get("typdefault");
        d.default = expr.or_else(|| literal.map(|l| quote_literal(&l)));
        d.collation = collation_name(&row);
    }
    // NOT NULL constraints of domains are catalogued from 17 on.
    let kinds = if version >= 170000 { "'c', 'n'" } else { "'c'" };
    let sql = format!(
        "SELECT c.contypid, c.oid, c.conname, pg_catalog.pg_get_constraintdef(c.oid) AS consrc, \
         c.convalidated, c.contype \
         FROM pg_catalog.pg_constraint c \
         WHERE c.contypid >= 16384 AND c.contype IN ({kinds}) \
         ORDER BY c.contypid, c.conname"
    );
    for row in query(client, "domain constraints", &sql, &[]).await? {
        let Some(&i) = by_oid.get(&oid(&row, "contypid")) else {
            continue;
        };
        types.domains[i].constraints.push(DomainConstraint {
            oid: oid(&row, "oid"),
            name: row.get("conname"),
            def: row.get("consrc"),
            validated: row.get("convalidated"),
            kind: byte(&row, "contype"),
        });
    }
    Ok(())
}

/// One constraint object per constraint of dumped domain `d` (graph object
/// `domain_obj`). A validated constraint stays inside CREATE DOMAIN, and the domain
/// waits for it; a NOT VALID one is separate.
pub(crate) fn add_constraints(g: &mut Graph, types: &Types, d: usize, domain_obj: ObjId) {
    let dom = &types.domains[d];
    for (k, c) in dom.constraints.iter().enumerate() {
        let mut obj = Graph::new_obj(
            ObjKind::Constraint,
            (catalog_oid::PG_CONSTRAINT, c.oid),
            &c.name,
            Some(&dom.head.schema),
            Payload::Kind(KindPayload::Type(Item::DomainConstraint {
                domain: d,
                check: k,
            })),
        );
        obj.tiebreak = Tiebreak::Domain(dom.head.name.clone());
        obj.separate = !c.validated;
        let id = g.add(obj);
        if c.validated {
            g.add_dep(domain_obj, id);
        }
    }
}

/// CREATE DOMAIN with its inline constraints, then the comments on the domain and on
/// those constraints.
pub(crate) fn emit(e: &mut Emitter<'_>, i: usize) -> Result<()> {
    let d = &e.catalog.kinds.types.domains[i];
    let separate = |c: &DomainConstraint| {
        e.separate_objs
            .contains(&(catalog_oid::PG_CONSTRAINT, c.oid))
    };
    let inline: Vec<&DomainConstraint> = d.constraints.iter().filter(|c| !separate(c)).collect();
    let mut create = format!("CREATE DOMAIN {} AS {}", d.head.qualified(), d.base);
    if let Some(coll) = &d.collation {
        create.push_str(&format!(" COLLATE {coll}"));
    }
    create.push_str(&not_null_clause(d, e.version, &inline));
    if let Some(default) = &d.default {
        create.push_str(&format!(" DEFAULT {default}"));
    }
    for c in inline.iter().filter(|c| c.kind == b'c') {
        create.push_str(&format!(
            "\n\tCONSTRAINT {} {}",
            quote_ident(&c.name),
            c.def
        ));
    }
    create.push_str(";\n");
    type_entries(e, &d.head, "DOMAIN", create, false)?;
    // Comments on inline CHECK constraints, then on the NOT NULL one.
    let checks = inline.iter().filter(|c| c.kind == b'c');
    let not_nulls = inline.iter().filter(|c| c.kind != b'c');
    for c in checks.chain(not_nulls) {
        constraint_comment(e, &d.head, c);
    }
    Ok(())
}

/// The NOT NULL clause: before 17 from `typnotnull`; from 17 the NOT NULL constraint,
/// named only when its name is not the default `<domain>_not_null`.
fn not_null_clause(d: &Domain, version: i32, inline: &[&DomainConstraint]) -> String {
    if version < 170000 {
        return if d.not_null {
            " NOT NULL".to_string()
        } else {
            String::new()
        };
    }
    let Some(c) = inline.iter().find(|c| c.kind == b'n') else {
        return String::new();
    };
    if c.name == format!("{}_not_null", d.head.name) {
        " NOT NULL".to_string()
    } else {
        format!(" CONSTRAINT {} {}", quote_ident(&c.name), c.def)
    }
}

/// `COMMENT ON CONSTRAINT c ON DOMAIN s.d`, if the constraint has a comment.
fn constraint_comment(e: &mut Emitter<'_>, head: &TypeHead, c: &DomainConstraint) {
    let Some(text) = e
        .comment_of(catalog_oid::PG_CONSTRAINT, c.oid, 0)
        .map(str::to_string)
    else {
        return;
    };
    let kind = format!("CONSTRAINT {} ON DOMAIN", quote_ident(&c.name));
    e.comment(
        &kind,
        &quote_ident(&head.name),
        Some(&head.schema),
        &head.owner,
        &text,
    );
}

/// A constraint written on its own (post-data): `ALTER DOMAIN ... ADD CONSTRAINT`.
pub(crate) fn emit_separate_constraint(e: &mut Emitter<'_>, domain: usize, check: usize) {
    let d = &e.catalog.kinds.types.domains[domain];
    let c = &d.constraints[check];
    if !e
        .separate_objs
        .contains(&(catalog_oid::PG_CONSTRAINT, c.oid))
    {
        return;
    }
    let qual = d.head.qualified();
    let qc = quote_ident(&c.name);
    let mut entry = Entry::new(
        format!("{} {}", d.head.name, c.name),
        "CHECK CONSTRAINT",
        Some(&d.head.schema),
        &d.head.owner,
    );
    entry.create = format!("ALTER DOMAIN {qual}\n    ADD CONSTRAINT {qc} {};\n", c.def);
    entry.drop = format!("ALTER DOMAIN {qual} DROP CONSTRAINT {qc};\n");
    e.push(entry);
    constraint_comment(e, &d.head, c);
}

/// pg_dump's `repairDomainConstraintLoop` / `repairDomainConstraintMultiLoop`: a
/// domain and its own constraint alone in a loop keep the constraint inline (its edge
/// back to the domain goes); in a longer loop the constraint is split out, post-data.
pub(crate) fn repair_loop(g: &mut Graph, lp: &[ObjId]) -> bool {
    if lp.len() == 2 {
        for (d, c) in [(lp[0], lp[1]), (lp[1], lp[0])] {
            if constraint_of(g, c, d) {
                g.remove_dep(c, d);
                return true;
            }
        }
        return false;
    }
    for &d in lp {
        for &c in lp {
            if constraint_of(g, c, d) {
                g.remove_dep(d, c);
                g.objs[c].separate = true;
                g.add_dep(c, d);
                if let Some(post) = g
                    .objs
                    .iter()
                    .position(|o| o.kind == ObjKind::PostDataBoundary)
                {
                    g.add_dep(c, post);
                }
                return true;
            }
        }
    }
    false
}

/// Whether graph object `c` is a constraint of the domain that is object `d`.
fn constraint_of(g: &Graph, c: ObjId, d: ObjId) -> bool {
    let Payload::Kind(KindPayload::Type(Item::Domain(dom))) = g.objs[d].payload else {
        return false;
    };
    matches!(
        g.objs[c].payload,
        Payload::Kind(KindPayload::Type(Item::DomainConstraint { domain, .. })) if domain == dom
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::model::Obj;

    fn obj(kind: ObjKind, item: Item) -> Obj {
        Graph::new_obj(
            kind,
            (0, 0),
            "d",
            Some("s"),
            Payload::Kind(KindPayload::Type(item)),
        )
    }

    #[test]
    fn two_object_loop_keeps_the_constraint_inline() {
        let mut g = Graph::default();
        let d = g.add(obj(ObjKind::Type, Item::Domain(0)));
        let c = g.add(obj(
            ObjKind::Constraint,
            Item::DomainConstraint {
                domain: 0,
                check: 0,
            },
        ));
        g.add_dep(d, c);
        g.add_dep(c, d);
        assert!(repair_loop(&mut g, &[c, d]));
        assert!(g.objs[c].deps.is_empty());
        assert!(!g.objs[c].separate);
    }

    #[test]
    fn longer_loop_splits_the_constraint_out() {
        let mut g = Graph::default();
        let d = g.add(obj(ObjKind::Type, Item::Domain(0)));
        let c = g.add(obj(
            ObjKind::Constraint,
            Item::DomainConstraint {
                domain: 0,
                check: 0,
            },
        ));
        let other = g.add(obj(ObjKind::Type, Item::Enum(0)));
        let post = g.add(Graph::new_obj(
            ObjKind::PostDataBoundary,
            (0, 0),
            "POST",
            None,
            Payload::None,
        ));
        g.add_dep(d, c);
        g.add_dep(c, other);
        g.add_dep(other, d);
        assert!(repair_loop(&mut g, &[d, c, other]));
        assert!(g.objs[c].separate);
        assert!(g.objs[d].deps.is_empty());
        assert_eq!(g.objs[c].deps, vec![other, d, post]);
    }

    #[test]
    fn constraints_of_other_domains_are_no_match() {
        let mut g = Graph::default();
        let d = g.add(obj(ObjKind::Type, Item::Domain(0)));
        let c = g.add(obj(
            ObjKind::Constraint,
            Item::DomainConstraint {
                domain: 1,
                check: 0,
            },
        ));
        g.add_dep(d, c);
        g.add_dep(c, d);
        assert!(!repair_loop(&mut g, &[d, c]));
    }
}
