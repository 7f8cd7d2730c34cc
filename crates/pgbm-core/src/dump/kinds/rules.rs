//! Rewrite rules dumped as their own post-data `RULE` entries: every rule but a
//! view's ON SELECT rule, and that one too when a dependency loop through the view
//! made pg_dump create the view with a dummy body first (the entry is then named
//! `_RETURN` and holds `CREATE OR REPLACE VIEW`).
//!
//! The rule objects themselves are made by the graph builder (they order views);
//! this module reads the rule text and writes the entries.

use crate::dump::catalog::{oid, query, Catalog, Relation, Rule};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{catalog_oid, Obj};
use crate::dump::select::Selection;
use crate::error::{Error, Result};
use crate::sql::{qualified, quote_ident};
use std::collections::HashMap;
use tokio_postgres::Client;

/// `pg_get_ruledef` of the rules of dumped tables, by rule OID.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    pub defs: HashMap<u32, String>,
}

/// Whether `rule` is the ON SELECT rule that makes `rel` a view or materialized view.
pub(crate) fn is_view_rule(rule: &Rule, rel: &Relation) -> bool {
    rule.ev_type == b'1' && rule.is_instead && matches!(rel.kind, b'v' | b'm')
}

/// Reads the definitions of the rules (other than views' ON SELECT rules) of the
/// dumped tables; they are locked by now, so `pg_get_ruledef` is safe.
pub(crate) async fn read_details(
    client: &Client,
    _version: i32,
    catalog: &mut Catalog,
    sel: &Selection,
) -> Result<()> {
    let tables: Vec<u32> = catalog
        .relations
        .iter()
        .filter(|r| sel.tables.contains(&r.oid))
        .map(|r| r.oid)
        .collect();
    let sql = "SELECT r.oid, pg_catalog.pg_get_ruledef(r.oid) AS ruledef \
               FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(tbloid) \
               JOIN pg_catalog.pg_rewrite r ON r.ev_class = src.tbloid \
               WHERE NOT (r.ev_type = '1' AND r.is_instead)";
    for row in query(client, "rules", sql, &tables).await? {
        catalog
            .kinds
            .rules
            .defs
            .insert(oid(&row, "oid"), row.get("ruledef"));
    }
    Ok(())
}

/// The entries of a rule object the graph made separate (`obj.cat` is the rule's
/// catalog id).
pub(crate) fn emit(e: &mut Emitter<'_>, obj: &Obj) -> Result<()> {
    let catalog = e.catalog;
    let Some(rule) = catalog.rules.iter().find(|r| r.oid == obj.cat.1) else {
        return Ok(());
    };
    let Some(rel) = catalog
        .relation_index(rule.table)
        .map(|i| &catalog.relations[i])
    else {
        return Ok(());
    };
    if !e.sel.tables.contains(&rel.oid) {
        return Ok(());
    }
    let qrel = qualified(&rel.schema, &rel.name);
    let qname = quote_ident(&rule.name);
    let (mut create, drop) = if rule.ev_type == b'1' && rule.is_instead {
        // A view created early with a dummy body gets its real one here; "dropping"
        // the rule puts the dummy body back.
        let (real, dummy) = e.view_bodies(rel)?;
        (real, dummy)
    } else {
        let def = catalog.kinds.rules.defs.get(&rule.oid).ok_or_else(|| {
            Error::internal(format!("definition of rule {qname} on {qrel} not read"))
        })?;
        (
            format!("{def}\n"),
            format!("DROP RULE {qname} ON {qrel};\n"),
        )
    };
    let firing = match rule.ev_enabled {
        b'A' => Some("ENABLE ALWAYS"),
        b'R' => Some("ENABLE REPLICA"),
        b'D' => Some("DISABLE"),
        _ => None,
    };
    if let Some(firing) = firing {
        create.push_str(&format!("ALTER TABLE {qrel} {firing} RULE {qname};\n"));
    }
    let mut entry = Entry::new(
        format!("{} {}", rel.name, rule.name),
        "RULE",
        Some(&rel.schema),
        &rel.owner,
    );
    entry.create = create;
    entry.drop = drop;
    e.push(entry);
    if let Some(text) = e
        .comment_of(catalog_oid::PG_REWRITE, rule.oid, 0)
        .map(str::to_string)
    {
        e.comment(
            &format!("RULE {qname} ON"),
            &quote_ident(&rel.name),
            Some(&rel.schema),
            &rel.owner,
            &text,
        );
    }
    Ok(())
}
