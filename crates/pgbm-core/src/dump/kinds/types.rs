//! User-defined types, as pg_dump's `getTypes` / `dumpType` see them: enum, composite
//! (stand-alone, `CREATE TYPE t AS (...)`), domain, range, base and "undefined" types
//! (a shell created by `CREATE TYPE t;` and never filled in).
//!
//! Besides one TYPE object per type, the graph gets:
//! * for each dumped base or range type, a *shell type* object that is written
//!   (`CREATE TYPE t;`) only when a loop repair makes one of the type's functions
//!   depend on it (see [`repair_loop`]);
//! * for each dumped domain, one constraint object per CHECK (and, on 17+, NOT NULL)
//!   constraint, kept inside CREATE DOMAIN unless it is NOT VALID or a loop repair
//!   splits it out (see [`domain`]).
//!
//! Table row types and array/multirange types are not read here: they are the
//! catalog's dummy types.

mod base;
mod domain;
mod range;

use super::{selected, KindPayload};
use crate::dump::catalog::{byte, oid, query, text_array, Catalog};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{catalog_oid, Graph, Obj, ObjId, ObjKind, Payload, Tiebreak};
use crate::dump::select::Selection;
use crate::error::Result;
use crate::sql::{qualified, quote_ident, quote_literal, AclTarget};
use std::collections::HashMap;
use tokio_postgres::Client;

pub(crate) use base::BaseType;
pub(crate) use domain::Domain;
pub(crate) use range::RangeType;

/// `pg_proc`'s catalog OID: the class of function objects in the graph.
const PG_PROC: u32 = 1255;

/// What every user-defined type has.
#[derive(Debug, Clone)]
pub(crate) struct TypeHead {
    pub oid: u32,
    pub nsp_oid: u32,
    pub schema: String,
    pub name: String,
    pub owner: String,
    pub acl: Option<Vec<String>>,
    pub acl_default: Vec<String>,
}

impl TypeHead {
    /// `schema.name`, quoted.
    pub(crate) fn qualified(&self) -> String {
        qualified(&self.schema, &self.name)
    }

    /// The catalog id of the type.
    fn cat(&self) -> (u32, u32) {
        (catalog_oid::PG_TYPE, self.oid)
    }
}

/// An enum type.
#[derive(Debug, Clone)]
pub(crate) struct EnumType {
    pub head: TypeHead,
    pub labels: Vec<String>,
}

/// A stand-alone composite type.
#[derive(Debug, Clone)]
pub(crate) struct CompositeType {
    pub head: TypeHead,
    /// The type's `pg_class` row (column comments hang on it).
    pub relid: u32,
    pub attrs: Vec<Attribute>,
}

/// One attribute of a composite type (dropped ones included, as pg_dump reads them).
#[derive(Debug, Clone)]
pub(crate) struct Attribute {
    pub num: i32,
    pub name: String,
    pub type_def: String,
    pub dropped: bool,
    /// Qualified, quoted collation when it differs from the attribute type's.
    pub collation: Option<String>,
}

/// A type that is only a shell (`CREATE TYPE t;` and nothing more).
#[derive(Debug, Clone)]
pub(crate) struct UndefinedType {
    pub head: TypeHead,
}

/// The types read from the catalog, by kind, each in OID order.
#[derive(Debug, Default)]
pub(crate) struct Types {
    pub enums: Vec<EnumType>,
    pub composites: Vec<CompositeType>,
    pub domains: Vec<Domain>,
    pub ranges: Vec<RangeType>,
    pub bases: Vec<BaseType>,
    pub undefined: Vec<UndefinedType>,
}

/// Which type (or type-related object) a graph object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Enum(usize),
    Composite(usize),
    Domain(usize),
    Range(usize),
    Base(usize),
    Undefined(usize),
    /// The shell type of base type `n`.
    BaseShell(usize),
    /// The shell type of range type `n`.
    RangeShell(usize),
    /// Constraint `check` of domain `domain`.
    DomainConstraint {
        domain: usize,
        check: usize,
    },
}

/// Reads every user-defined type (OID at least 16384), then the kind-specific details
/// with one query per kind.
pub(crate) async fn read(client: &Client, version: i32, catalog: &mut Catalog) -> Result<()> {
    // pg_dump's array test: an array is its element type's typarray. Table row types
    // (typrelid of a non-composite relation) are dummy types, as are multiranges.
    let sql = "SELECT t.oid, t.typnamespace, n.nspname, t.typname, t.typtype, t.typrelid, \
               pg_catalog.pg_get_userbyid(t.typowner) AS owner, t.typacl::text[] AS acl, \
               pg_catalog.acldefault('T', t.typowner)::text[] AS acldefault, \
               CASE WHEN t.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e \
                     WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS labels \
               FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
               WHERE t.oid >= 16384 \
               AND (t.typtype IN ('b', 'd', 'e', 'r') OR (t.typtype = 'p' AND NOT t.typisdefined) \
                    OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
                        WHERE c.oid = t.typrelid AND c.relkind = 'c'))) \
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e \
                    WHERE e.oid = t.typelem AND e.typarray = t.oid) \
               ORDER BY t.oid";
    let types = &mut catalog.kinds.types;
    for row in query(client, "types", sql, &[]).await? {
        let head = TypeHead {
            oid: oid(&row, "oid"),
            nsp_oid: oid(&row, "typnamespace"),
            schema: row.get("nspname"),
            name: row.get("typname"),
            owner: row.get("owner"),
            acl: row.get("acl"),
            acl_default: text_array(&row, "acldefault"),
        };
        match byte(&row, "typtype") {
            b'e' => types.enums.push(EnumType {
                head,
                labels: text_array(&row, "labels"),
            }),
            b'c' => types.composites.push(CompositeType {
                head,
                relid: oid(&row, "typrelid"),
                attrs: Vec::new(),
            }),
            b'd' => types.domains.push(Domain::new(head)),
            b'r' => types.ranges.push(RangeType::new(head)),
            b'b' => types.bases.push(BaseType::new(head)),
            _ => types.undefined.push(UndefinedType { head }),
        }
    }
    read_attributes(client, types).await?;
    domain::read(client, version, types).await?;
    range::read(client, version, types).await?;
    base::read(client, version, types).await?;
    Ok(())
}

/// The attributes of all composite types.
async fn read_attributes(client: &Client, types: &mut Types) -> Result<()> {
    if types.composites.is_empty() {
        return Ok(());
    }
    let by_oid: HashMap<u32, usize> = index_by_oid(types.composites.iter().map(|t| &t.head));
    // As pg_dump: a COLLATE clause only when the attribute's collation differs from
    // its type's (dropped attributes have no type, hence none).
    let sql = "SELECT ct.oid AS typoid, a.attnum::int4 AS attnum, a.attname, \
               pg_catalog.format_type(a.atttypid, a.atttypmod) AS atttypdefn, a.attisdropped, \
               cn.nspname AS collnsp, co.collname \
               FROM pg_catalog.pg_type ct \
               JOIN pg_catalog.pg_attribute a ON a.attrelid = ct.typrelid \
               LEFT JOIN pg_catalog.pg_type at ON at.oid = a.atttypid \
               LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation \
                    AND a.attcollation <> at.typcollation \
               LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
               WHERE ct.typtype = 'c' AND ct.oid >= 16384 AND a.attnum > 0 \
               ORDER BY ct.oid, a.attnum";
    for row in query(client, "composite type attributes", sql, &[]).await? {
        let Some(&i) = by_oid.get(&oid(&row, "typoid")) else {
            continue;
        };
        types.composites[i].attrs.push(Attribute {
            num: row.get("attnum"),
            name: row.get("attname"),
            type_def: row
                .get::<_, Option<String>>("atttypdefn")
                .unwrap_or_default(),
            dropped: row.get("attisdropped"),
            collation: collation_name(&row),
        });
    }
    Ok(())
}

/// Type OID -> index, for attaching detail rows.
fn index_by_oid<'a>(heads: impl Iterator<Item = &'a TypeHead>) -> HashMap<u32, usize> {
    heads.enumerate().map(|(i, h)| (h.oid, i)).collect()
}

/// The qualified collation name from a row's `collnsp` and `collname` columns
/// (pg_dump's `fmtQualifiedDumpable` of the collation), if any.
pub(crate) fn collation_name(row: &tokio_postgres::Row) -> Option<String> {
    let nsp: Option<String> = row.get("collnsp");
    let name: Option<String> = row.get("collname");
    Some(qualified(&nsp?, &name?))
}

/// One object per type, in pg_dump's creation order: each type in OID order, followed
/// by its domain constraints or its shell type when the type is dumped.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, sel: &Selection) {
    let types = &catalog.kinds.types;
    for item in all_items(types) {
        let head = head_of(types, item);
        let id = g.add(Graph::new_obj(
            ObjKind::Type,
            head.cat(),
            &head.name,
            Some(&head.schema),
            Payload::Kind(KindPayload::Type(item)),
        ));
        if !selected(catalog, sel, head.nsp_oid, head.cat()) {
            continue;
        }
        match item {
            Item::Domain(d) => domain::add_constraints(g, types, d, id),
            Item::Base(b) => add_shell(g, head, Item::BaseShell(b)),
            Item::Range(r) => add_shell(g, head, Item::RangeShell(r)),
            _ => {}
        }
    }
}

/// Makes the item for the n-th type of one kind.
type ItemOf = fn(usize) -> Item;

/// Every type, in OID order.
fn all_items(types: &Types) -> Vec<Item> {
    let kinds: [(usize, ItemOf); 6] = [
        (types.enums.len(), Item::Enum),
        (types.composites.len(), Item::Composite),
        (types.domains.len(), Item::Domain),
        (types.ranges.len(), Item::Range),
        (types.bases.len(), Item::Base),
        (types.undefined.len(), Item::Undefined),
    ];
    let mut items: Vec<Item> = kinds
        .iter()
        .flat_map(|&(n, item)| (0..n).map(item))
        .collect();
    items.sort_by_key(|&item| head_of(types, item).oid);
    items
}

/// The shell type of a dumped base or range type. It has no catalog id (it must not
/// capture the type's pg_depend edges) and is written only if a loop repair marks it.
fn add_shell(g: &mut Graph, head: &TypeHead, item: Item) {
    let mut obj = Graph::new_obj(
        ObjKind::Type,
        (0, 0),
        &head.name,
        Some(&head.schema),
        Payload::Kind(KindPayload::Type(item)),
    );
    obj.tiebreak = Tiebreak::ShellType;
    g.add(obj);
}

/// The common part of the type an item belongs to.
fn head_of(types: &Types, item: Item) -> &TypeHead {
    match item {
        Item::Enum(i) => &types.enums[i].head,
        Item::Composite(i) => &types.composites[i].head,
        Item::Domain(i) | Item::DomainConstraint { domain: i, .. } => &types.domains[i].head,
        Item::Range(i) | Item::RangeShell(i) => &types.ranges[i].head,
        Item::Base(i) | Item::BaseShell(i) => &types.bases[i].head,
        Item::Undefined(i) => &types.undefined[i].head,
    }
}

/// The entries of one type object.
pub(crate) fn emit(e: &mut Emitter<'_>, obj: &Obj, item: Item) -> Result<()> {
    let head = head_of(&e.catalog.kinds.types, item);
    if !selected(e.catalog, e.sel, head.nsp_oid, head.cat()) {
        return Ok(());
    }
    match item {
        Item::Enum(i) => emit_enum(e, i),
        Item::Composite(i) => emit_composite(e, i),
        Item::Domain(i) => domain::emit(e, i),
        Item::DomainConstraint { domain, check } => {
            domain::emit_separate_constraint(e, domain, check);
            Ok(())
        }
        Item::Range(i) => range::emit(e, i),
        Item::Base(i) => base::emit(e, i),
        Item::Undefined(i) => {
            let head = &e.catalog.kinds.types.undefined[i].head;
            let create = format!("CREATE TYPE {};\n", head.qualified());
            type_entries(e, head, "TYPE", create, false)
        }
        Item::BaseShell(_) | Item::RangeShell(_) => {
            if obj.separate {
                emit_shell(e, item);
            }
            Ok(())
        }
    }
}

/// The definition entry of a type (desc `TYPE` or `DOMAIN`), then its comment and ACL.
/// `cascade`: base types are dropped with CASCADE, since they and their I/O functions
/// depend on each other.
fn type_entries(
    e: &mut Emitter<'_>,
    head: &TypeHead,
    desc: &'static str,
    create: String,
    cascade: bool,
) -> Result<()> {
    let qual = head.qualified();
    let mut entry = Entry::new(head.name.clone(), desc, Some(&head.schema), &head.owner);
    entry.create = create;
    entry.drop = if cascade {
        format!("DROP {desc} {qual} CASCADE;\n")
    } else {
        format!("DROP {desc} {qual};\n")
    };
    entry.owner_object = Some(format!("{desc} {qual}"));
    e.push(entry);
    let q = quote_ident(&head.name);
    if let Some(text) = e
        .comment_of(catalog_oid::PG_TYPE, head.oid, 0)
        .map(str::to_string)
    {
        e.comment(desc, &q, Some(&head.schema), &head.owner, &text);
    }
    let (schema, owner) = (Some(head.schema.as_str()), head.owner.as_str());
    super::seclabels::label(
        e,
        desc,
        &q,
        schema,
        owner,
        catalog_oid::PG_TYPE,
        head.oid,
        0,
    );
    if let Some(acl) = &head.acl {
        // Domains too are granted ON TYPE.
        let target = AclTarget {
            kind: "TYPE",
            name: &q,
            subname: None,
            namespace: Some(&head.schema),
            owner: Some(&head.owner),
        };
        e.acl(&target, acl, &head.acl_default, format!("TYPE {q}"))?;
    }
    Ok(())
}

fn emit_enum(e: &mut Emitter<'_>, i: usize) -> Result<()> {
    let t = &e.catalog.kinds.types.enums[i];
    let mut create = format!("CREATE TYPE {} AS ENUM (", t.head.qualified());
    for (k, label) in t.labels.iter().enumerate() {
        if k > 0 {
            create.push(',');
        }
        create.push_str("\n    ");
        create.push_str(&quote_literal(label));
    }
    create.push_str("\n);\n");
    type_entries(e, &t.head, "TYPE", create, false)
}

fn emit_composite(e: &mut Emitter<'_>, i: usize) -> Result<()> {
    let t = &e.catalog.kinds.types.composites[i];
    let mut create = format!("CREATE TYPE {} AS (", t.head.qualified());
    for (k, a) in t.attrs.iter().filter(|a| !a.dropped).enumerate() {
        if k > 0 {
            create.push(',');
        }
        create.push_str(&format!("\n\t{} {}", quote_ident(&a.name), a.type_def));
        if let Some(coll) = &a.collation {
            create.push_str(&format!(" COLLATE {coll}"));
        }
    }
    create.push_str("\n);\n");
    type_entries(e, &t.head, "TYPE", create, false)?;
    composite_column_comments(e, t);
    Ok(())
}

/// `COMMENT ON COLUMN type.attr`: comments on the attributes hang on the type's
/// pg_class row.
fn composite_column_comments(e: &mut Emitter<'_>, t: &CompositeType) {
    let Some(comments) = e.catalog.comments.get(&(catalog_oid::PG_CLASS, t.relid)) else {
        return;
    };
    for (subid, text) in comments {
        let Some(attr) = t.attrs.iter().find(|a| a.num == *subid && !a.dropped) else {
            continue;
        };
        let name = format!("{}.{}", quote_ident(&t.head.name), quote_ident(&attr.name));
        e.comment("COLUMN", &name, Some(&t.head.schema), &t.head.owner, text);
    }
}

/// `CREATE TYPE t;` ahead of the functions of a base or range type. No DROP (the
/// type's own entry drops it) and so no OWNER TO: a shell cannot change owner before
/// it is filled in.
fn emit_shell(e: &mut Emitter<'_>, item: Item) {
    let head = head_of(&e.catalog.kinds.types, item);
    let mut entry = Entry::new(
        head.name.clone(),
        "SHELL TYPE",
        Some(&head.schema),
        &head.owner,
    );
    entry.create = format!("CREATE TYPE {};\n", head.qualified());
    e.push(entry);
}

/// Loop repairs for types: pg_dump's `repairTypeFuncLoop` and the domain constraint
/// repairs ([`domain::repair_loop`]).
pub(crate) fn repair_loop(g: &mut Graph, lp: &[ObjId]) -> bool {
    repair_type_func_loop(g, lp) || domain::repair_loop(g, lp)
}

/// A type and one of its I/O functions (or a range type and its canonical function)
/// depend on each other: the function then depends on the type's shell instead, and
/// the shell is written.
fn repair_type_func_loop(g: &mut Graph, lp: &[ObjId]) -> bool {
    if lp.len() != 2 {
        return false;
    }
    for (t, f) in [(lp[0], lp[1]), (lp[1], lp[0])] {
        if g.objs[t].kind != ObjKind::Type || g.objs[f].cat.0 != PG_PROC {
            continue;
        }
        g.remove_dep(f, t);
        if let Some(shell) = shell_of(g, t) {
            g.add_dep(f, shell);
            g.objs[shell].separate = true;
        }
        return true;
    }
    false
}

/// The shell type object of type object `t`, if it has one.
fn shell_of(g: &Graph, t: ObjId) -> Option<ObjId> {
    let shell = match g.objs[t].payload {
        Payload::Kind(KindPayload::Type(Item::Base(i))) => Item::BaseShell(i),
        Payload::Kind(KindPayload::Type(Item::Range(i))) => Item::RangeShell(i),
        _ => return None,
    };
    g.objs
        .iter()
        .position(|o| o.payload == Payload::Kind(KindPayload::Type(shell)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(kind: ObjKind, cat: (u32, u32), item: Option<Item>) -> Obj {
        let payload = item.map_or(Payload::None, |i| Payload::Kind(KindPayload::Type(i)));
        Graph::new_obj(kind, cat, "t", Some("s"), payload)
    }

    #[test]
    fn type_function_loop_goes_through_the_shell() {
        let mut g = Graph::default();
        let t = g.add(obj(ObjKind::Type, (1247, 20000), Some(Item::Base(0))));
        let shell = g.add(obj(ObjKind::Type, (0, 0), Some(Item::BaseShell(0))));
        let f = g.add(obj(ObjKind::Type, (PG_PROC, 20001), None));
        g.add_dep(t, f);
        g.add_dep(f, t);
        assert!(repair_loop(&mut g, &[f, t]));
        assert_eq!(g.objs[f].deps, vec![shell]);
        assert!(g.objs[shell].separate);
        assert_eq!(g.objs[t].deps, vec![f]);
    }

    #[test]
    fn other_two_object_loops_are_left_alone() {
        let mut g = Graph::default();
        let a = g.add(obj(ObjKind::Type, (1247, 20000), Some(Item::Enum(0))));
        let b = g.add(obj(ObjKind::Table, (1259, 20001), None));
        g.add_dep(a, b);
        g.add_dep(b, a);
        assert!(!repair_loop(&mut g, &[a, b]));
    }
}
