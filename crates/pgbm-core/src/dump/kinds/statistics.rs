//! Extended statistics objects (`CREATE STATISTICS`), post-data.

use super::{selected, KindPayload};
use crate::dump::catalog::{oid, query, Catalog};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{Graph, Obj, ObjKind, Payload};
use crate::dump::select::Selection;
use crate::error::{Error, Result};
use crate::sql::{qualified, quote_ident};
use tokio_postgres::Client;

/// `pg_statistic_ext.oid`'s catalog, as `pg_depend` names it.
const PG_STATISTIC_EXT: u32 = 3381;

/// An extended statistics object.
#[derive(Debug, Clone)]
pub(crate) struct StatsExt {
    pub oid: u32,
    pub nsp_oid: u32,
    pub schema: String,
    pub name: String,
    pub owner: String,
    pub table: u32,
    /// `stxstattarget`; -1 for the default (NULL from PostgreSQL 17 on).
    pub stat_target: i32,
    /// `pg_get_statisticsobjdef`, read once the table is locked.
    pub def: Option<String>,
}

/// The extended statistics read from the catalog.
#[derive(Debug, Default)]
pub(crate) struct Statistics {
    pub objects: Vec<StatsExt>,
}

/// Which statistics object a graph object is (index into [`Statistics::objects`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Item(usize);

/// Reads the statistics objects (plain catalog columns only).
pub(crate) async fn read(client: &Client, _version: i32, catalog: &mut Catalog) -> Result<()> {
    // stxstattarget is an int2 since 13 (-1: default) and nullable since 17 (NULL:
    // default); both mean "no ALTER STATISTICS".
    let sql = "SELECT s.oid, s.stxnamespace, n.nspname, s.stxname, \
               pg_catalog.pg_get_userbyid(s.stxowner) AS owner, s.stxrelid, \
               COALESCE(s.stxstattarget::pg_catalog.int4, -1) AS stxstattarget \
               FROM pg_catalog.pg_statistic_ext s \
               JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace ORDER BY s.oid";
    for row in query(client, "extended statistics", sql, &[]).await? {
        catalog.kinds.statistics.objects.push(StatsExt {
            oid: oid(&row, "oid"),
            nsp_oid: oid(&row, "stxnamespace"),
            schema: row.get("nspname"),
            name: row.get("stxname"),
            owner: row.get("owner"),
            table: oid(&row, "stxrelid"),
            stat_target: row.get("stxstattarget"),
            def: None,
        });
    }
    Ok(())
}

/// Whether statistics object `s` is dumped: its schema's contents are, and so is its
/// table (pg_dump 15's rule).
fn is_dumped(catalog: &Catalog, sel: &Selection, s: &StatsExt) -> bool {
    selected(catalog, sel, s.nsp_oid, (PG_STATISTIC_EXT, s.oid)) && sel.tables.contains(&s.table)
}

/// Reads the definitions of the dumped statistics objects (their tables are locked).
pub(crate) async fn read_details(
    client: &Client,
    _version: i32,
    catalog: &mut Catalog,
    sel: &Selection,
) -> Result<()> {
    let oids: Vec<u32> = catalog
        .kinds
        .statistics
        .objects
        .iter()
        .filter(|s| is_dumped(catalog, sel, s))
        .map(|s| s.oid)
        .collect();
    if oids.is_empty() {
        return Ok(());
    }
    let sql = "SELECT src.oid, pg_catalog.pg_get_statisticsobjdef(src.oid) AS def \
               FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(oid)";
    for row in query(client, "extended statistics definitions", sql, &oids).await? {
        let o = oid(&row, "oid");
        if let Some(s) = catalog
            .kinds
            .statistics
            .objects
            .iter_mut()
            .find(|s| s.oid == o)
        {
            s.def = row.get("def");
        }
    }
    Ok(())
}

/// One STATSEXT object per statistics object.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, _sel: &Selection) {
    for (i, s) in catalog.kinds.statistics.objects.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::StatsExt,
            (PG_STATISTIC_EXT, s.oid),
            &s.name,
            Some(&s.schema),
            Payload::Kind(KindPayload::Statistics(Item(i))),
        ));
    }
}

/// The entries of one statistics object.
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, item: Item) -> Result<()> {
    let s = &e.catalog.kinds.statistics.objects[item.0];
    if !is_dumped(e.catalog, e.sel, s) {
        return Ok(());
    }
    let qual = qualified(&s.schema, &s.name);
    let def = s.def.as_ref().ok_or_else(|| {
        Error::internal(format!("definition of statistics object {qual} not read"))
    })?;
    let mut create = format!("{def};\n");
    if s.stat_target >= 0 {
        create.push_str(&format!(
            "ALTER STATISTICS {qual} SET STATISTICS {};\n",
            s.stat_target
        ));
    }
    let mut entry = Entry::new(s.name.clone(), "STATISTICS", Some(&s.schema), &s.owner);
    entry.create = create;
    entry.drop = format!("DROP STATISTICS {qual};\n");
    entry.owner_object = Some(format!("STATISTICS {qual}"));
    e.push(entry);
    if let Some(text) = e.comment_of(PG_STATISTIC_EXT, s.oid, 0).map(str::to_string) {
        let (name, schema, owner) = (quote_ident(&s.name), s.schema.clone(), s.owner.clone());
        e.comment("STATISTICS", &name, Some(&schema), &owner, &text);
    }
    Ok(())
}
