//! Security labels (`SECURITY LABEL FOR provider ON ... IS '...'`).
//!
//! A label needs a label provider (a loadable module such as sepgsql) both to be set
//! and to be restored, and none is available to the test suite; this follows pg_dump's
//! `dumpSecLabel`, `dumpTableSecLabel` and `emitShSecLabels`, and
//! `tests/it/seclabels.rs` compares with pg_dump on labels written into the catalogs. Labels follow their object in the same pass (large objects' labels
//! are data, like everything about large objects); a table's labels, its columns'
//! included, form one entry.
//!
//! The kinds in this branch call [`label`] / [`table_labels`]; other kinds can do the
//! same. Until they do, [`unsupported_classes`] keeps their labels on the list of
//! objects pgbm refuses to drop silently.

use crate::dump::catalog::{oid, query, Catalog, RelDetails, Relation};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::catalog_oid;
use crate::error::Result;
use crate::sql::{qualified, quote_ident, quote_literal};
use std::collections::HashMap;
use tokio_postgres::Client;

/// One label.
#[derive(Debug, Clone)]
pub(crate) struct Label {
    pub subid: i32,
    pub provider: String,
    pub label: String,
}

/// What this module reads.
#[derive(Debug, Default)]
pub(crate) struct SecLabels {
    /// By (classoid, objoid), in (objsubid, provider) order.
    pub labels: HashMap<(u32, u32), Vec<Label>>,
    /// Labels of the current database (`pg_shseclabel`), in provider order.
    pub database: Vec<(String, String)>,
}

/// Catalogs whose objects' labels the kinds in this branch write; see
/// [`super::super::select::check_supported`].
pub(crate) fn supported_classes() -> [u32; 9] {
    [
        catalog_oid::PG_CLASS,
        catalog_oid::PG_NAMESPACE,
        catalog_oid::PG_TYPE,
        catalog_oid::PG_PROC,
        catalog_oid::PG_LANGUAGE,
        2613, // pg_largeobject
        6104, // pg_publication
        6100, // pg_subscription
        super::extensions::PG_EXTENSION,
    ]
}

/// A SQL condition on `l.classoid` true for labels no kind writes yet.
pub(crate) fn unsupported_classes() -> String {
    let list: Vec<String> = supported_classes().iter().map(u32::to_string).collect();
    format!("l.classoid NOT IN ({})", list.join(", "))
}

/// Reads every label of the database's objects, and the database's own.
pub(crate) async fn read(client: &Client, _version: i32, catalog: &mut Catalog) -> Result<()> {
    // pg_dump sorts by object only, so several providers' labels on one object come
    // in the server's (unspecified) tie order; pgbm orders them by provider, so its
    // output is deterministic. With one provider per object (sepgsql is the only
    // provider in use) both agree.
    let sql = "SELECT label, provider, classoid, objoid, objsubid \
               FROM pg_catalog.pg_seclabel \
               ORDER BY classoid, objoid, objsubid, provider";
    for row in query(client, "security labels", sql, &[]).await? {
        catalog
            .kinds
            .seclabels
            .labels
            .entry((oid(&row, "classoid"), oid(&row, "objoid")))
            .or_default()
            .push(Label {
                subid: row.get("objsubid"),
                provider: row.get("provider"),
                label: row.get("label"),
            });
    }
    let sql = "SELECT provider, label FROM pg_catalog.pg_shseclabel \
               WHERE classoid = 'pg_catalog.pg_database'::pg_catalog.regclass \
               AND objoid = (SELECT oid FROM pg_catalog.pg_database \
                             WHERE datname = pg_catalog.current_database()) \
               ORDER BY provider";
    for row in query(client, "database security labels", sql, &[]).await? {
        catalog
            .kinds
            .seclabels
            .database
            .push((row.get("provider"), row.get("label")));
    }
    Ok(())
}

/// pg_dump's `dumpSecLabel`: the labels of one object (sub-object `subid`) as one
/// `SECURITY LABEL` entry tagged `<kind> <name>`. `name` is quoted (and carries its
/// argument list for functions); `namespace` qualifies it when given.
#[allow(clippy::too_many_arguments)]
pub(crate) fn label(
    e: &mut Emitter<'_>,
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    owner: &str,
    classoid: u32,
    objoid: u32,
    subid: i32,
) {
    let large_object = kind == "LARGE OBJECT";
    // Labels are schema, except large objects' which are data.
    if (!large_object && e.opts.data_only) || (large_object && e.opts.schema_only) {
        return;
    }
    let Some(labels) = e.catalog.kinds.seclabels.labels.get(&(classoid, objoid)) else {
        return;
    };
    let target = match namespace.filter(|n| !n.is_empty()) {
        Some(ns) => format!("{}.{name}", quote_ident(ns)),
        None => name.to_string(),
    };
    let mut sql = String::new();
    for l in labels.iter().filter(|l| l.subid == subid) {
        sql.push_str(&format!(
            "SECURITY LABEL FOR {} ON {kind} {target} IS {};\n",
            quote_ident(&l.provider),
            quote_literal(&l.label)
        ));
    }
    if sql.is_empty() {
        return;
    }
    let mut entry = Entry::new(format!("{kind} {name}"), "SECURITY LABEL", namespace, owner);
    entry.create = sql;
    entry.is_data = large_object;
    e.push(entry);
}

/// pg_dump's `dumpTableSecLabel`: a relation's labels and its columns' in one entry
/// tagged `<reltype> <name>`.
pub(crate) fn table_labels(e: &mut Emitter<'_>, rel: &Relation, d: &RelDetails, reltype: &str) {
    if e.opts.data_only {
        return;
    }
    let Some(labels) = e
        .catalog
        .kinds
        .seclabels
        .labels
        .get(&(catalog_oid::PG_CLASS, rel.oid))
    else {
        return;
    };
    let qrel = qualified(&rel.schema, &rel.name);
    let mut sql = String::new();
    for l in labels {
        let target = if l.subid == 0 {
            format!("{reltype} {qrel}")
        } else {
            let Some(col) = d.columns.iter().find(|c| c.num == l.subid) else {
                continue;
            };
            format!("COLUMN {qrel}.{}", quote_ident(&col.name))
        };
        sql.push_str(&format!(
            "SECURITY LABEL FOR {} ON {target} IS {};\n",
            quote_ident(&l.provider),
            quote_literal(&l.label)
        ));
    }
    if sql.is_empty() {
        return;
    }
    let mut entry = Entry::new(
        format!("{reltype} {}", quote_ident(&rel.name)),
        "SECURITY LABEL",
        Some(&rel.schema),
        &rel.owner,
    );
    entry.create = sql;
    e.push(entry);
}

/// The database's labels for `--create` (pg_dump's `emitShSecLabels`), tagged
/// `DATABASE <name>`.
pub(crate) fn database_labels(e: &mut Emitter<'_>, name: &str, owner: &str) {
    let q = quote_ident(name);
    let mut sql = String::new();
    for (provider, label) in &e.catalog.kinds.seclabels.database {
        sql.push_str(&format!(
            "SECURITY LABEL FOR {} ON DATABASE {q} IS {};\n",
            quote_ident(provider),
            quote_literal(label)
        ));
    }
    if sql.is_empty() {
        return;
    }
    let mut entry = Entry::new(format!("DATABASE {q}"), "SECURITY LABEL", None, owner);
    entry.create = sql;
    e.push(entry);
}
