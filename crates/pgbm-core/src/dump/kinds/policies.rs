//! Row-level security: `ALTER TABLE ... ENABLE ROW LEVEL SECURITY` (a `ROW SECURITY`
//! entry) and `CREATE POLICY`, both post-data. (`FORCE ROW LEVEL SECURITY` goes with
//! the table's own definition.)

use super::KindPayload;
use crate::dump::catalog::{byte, oid, query, Catalog};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{Graph, Obj, ObjKind, Payload, Tiebreak};
use crate::dump::select::Selection;
use crate::error::{Error, Result};
use crate::sql::{qualified, quote_ident};
use std::collections::HashSet;
use tokio_postgres::Client;

/// `pg_policy.oid`'s catalog, as `pg_depend` names it.
const PG_POLICY: u32 = 3256;

/// A row-level security policy.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub oid: u32,
    pub table: u32,
    pub name: String,
    /// `*` (all), `r` (SELECT), `a` (INSERT), `w` (UPDATE) or `d` (DELETE).
    pub cmd: u8,
    pub permissive: bool,
    /// Quoted role names joined by `, `; `None` for PUBLIC.
    pub roles: Option<String>,
    pub qual: Option<String>,
    pub with_check: Option<String>,
}

/// Row security of the dumped tables.
#[derive(Debug, Default)]
pub(crate) struct Policies {
    /// Dumped tables with row-level security enabled.
    pub enabled: HashSet<u32>,
    pub policies: Vec<Policy>,
}

/// Which row security object a graph object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    /// Row-level security enabled on relation `usize`.
    RowSecurity(usize),
    /// Policy `usize` of [`Policies::policies`].
    Policy(usize),
}

/// Reads RLS flags and policies of the dumped tables (locked by now: the policy
/// expressions come from `pg_get_expr`).
pub(crate) async fn read_details(
    client: &Client,
    _version: i32,
    catalog: &mut Catalog,
    sel: &Selection,
) -> Result<()> {
    // Only tables and partitioned tables have row security.
    let tables: Vec<u32> = catalog
        .relations
        .iter()
        .filter(|r| sel.tables.contains(&r.oid) && matches!(r.kind, b'r' | b'p'))
        .map(|r| r.oid)
        .collect();
    let sql = "SELECT c.oid FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(tbloid) \
               JOIN pg_catalog.pg_class c ON c.oid = src.tbloid WHERE c.relrowsecurity";
    for row in query(client, "row security", sql, &tables).await? {
        catalog.kinds.policies.enabled.insert(oid(&row, "oid"));
    }
    // The role list is pg_dump's own expression (roles in pg_roles order).
    let sql = "SELECT pol.oid, pol.polrelid, pol.polname, pol.polcmd, pol.polpermissive, \
               CASE WHEN pol.polroles = '{0}' THEN NULL ELSE \
                 pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(rolname) \
                 FROM pg_catalog.pg_roles WHERE oid = ANY(pol.polroles)), ', ') END AS polroles, \
               pg_catalog.pg_get_expr(pol.polqual, pol.polrelid) AS polqual, \
               pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid) AS polwithcheck \
               FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(tbloid) \
               JOIN pg_catalog.pg_policy pol ON src.tbloid = pol.polrelid \
               ORDER BY pol.oid";
    for row in query(client, "policies", sql, &tables).await? {
        catalog.kinds.policies.policies.push(Policy {
            oid: oid(&row, "oid"),
            table: oid(&row, "polrelid"),
            name: row.get("polname"),
            cmd: byte(&row, "polcmd"),
            permissive: row.get("polpermissive"),
            roles: row.get("polroles"),
            qual: row.get("polqual"),
            with_check: row.get("polwithcheck"),
        });
    }
    Ok(())
}

/// One ROW SECURITY object per table with RLS enabled, one POLICY object per policy.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, _sel: &Selection) {
    let pol = &catalog.kinds.policies;
    for (i, rel) in catalog.relations.iter().enumerate() {
        if !pol.enabled.contains(&rel.oid) {
            continue;
        }
        // pg_dump gives it the table's OID with catalog 0 (no pg_depend row names
        // it), which also breaks sort ties like the table's OID.
        let mut obj = Graph::new_obj(
            ObjKind::Policy,
            (0, rel.oid),
            &rel.name,
            Some(&rel.schema),
            Payload::Kind(KindPayload::Policy(Item::RowSecurity(i))),
        );
        obj.tiebreak = Tiebreak::Table(rel.name.clone());
        if let Some(t) = g.find((crate::dump::model::catalog_oid::PG_CLASS, rel.oid)) {
            obj.deps.push(t);
        }
        g.add(obj);
    }
    for (k, p) in pol.policies.iter().enumerate() {
        let Some(rel) = catalog
            .relation_index(p.table)
            .map(|i| &catalog.relations[i])
        else {
            continue;
        };
        let mut obj = Graph::new_obj(
            ObjKind::Policy,
            (PG_POLICY, p.oid),
            &p.name,
            Some(&rel.schema),
            Payload::Kind(KindPayload::Policy(Item::Policy(k))),
        );
        obj.tiebreak = Tiebreak::Table(rel.name.clone());
        g.add(obj);
    }
}

/// The entries of one row security object.
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, item: Item) -> Result<()> {
    match item {
        Item::RowSecurity(i) => {
            let rel = &e.catalog.relations[i];
            let mut entry = Entry::new(
                rel.name.clone(),
                "ROW SECURITY",
                Some(&rel.schema),
                &rel.owner,
            );
            // pg_dump ends this one without a newline.
            entry.create = format!(
                "ALTER TABLE {} ENABLE ROW LEVEL SECURITY;",
                qualified(&rel.schema, &rel.name)
            );
            e.push(entry);
            Ok(())
        }
        Item::Policy(k) => emit_policy(e, k),
    }
}

fn emit_policy(e: &mut Emitter<'_>, k: usize) -> Result<()> {
    let p = &e.catalog.kinds.policies.policies[k];
    let catalog = e.catalog;
    let Some(rel) = catalog
        .relation_index(p.table)
        .map(|i| &catalog.relations[i])
    else {
        return Ok(());
    };
    let qrel = qualified(&rel.schema, &rel.name);
    let qname = quote_ident(&p.name);
    let cmd = match p.cmd {
        b'*' => "",
        b'r' => " FOR SELECT",
        b'a' => " FOR INSERT",
        b'w' => " FOR UPDATE",
        b'd' => " FOR DELETE",
        other => {
            return Err(Error::unsupported(format!(
                "unexpected command type {:?} of policy {qname} on {qrel}",
                other as char
            )))
        }
    };
    let restrictive = if p.permissive { "" } else { " AS RESTRICTIVE" };
    let mut create = format!("CREATE POLICY {qname} ON {qrel}{restrictive}{cmd}");
    if let Some(roles) = &p.roles {
        create.push_str(&format!(" TO {roles}"));
    }
    if let Some(qual) = &p.qual {
        create.push_str(&format!(" USING ({qual})"));
    }
    if let Some(check) = &p.with_check {
        create.push_str(&format!(" WITH CHECK ({check})"));
    }
    create.push_str(";\n");
    let mut entry = Entry::new(
        format!("{} {}", rel.name, p.name),
        "POLICY",
        Some(&rel.schema),
        &rel.owner,
    );
    entry.create = create;
    entry.drop = format!("DROP POLICY {qname} ON {qrel};\n");
    e.push(entry);
    if let Some(text) = e.comment_of(PG_POLICY, p.oid, 0).map(str::to_string) {
        e.comment(
            &format!("POLICY {qname} ON"),
            &quote_ident(&rel.name),
            Some(&rel.schema),
            &rel.owner,
            &text,
        );
    }
    Ok(())
}
