//! Extensions, and what extension membership does to every other kind.
//!
//! pg_dump writes `CREATE EXTENSION IF NOT EXISTS e WITH SCHEMA s;` (no version, so the
//! target's default version is installed) and never the extension's member objects:
//! the extension script recreates them. What the dump keeps of the members:
//!
//! * their privileges, as the difference from `pg_init_privs` (the privileges the
//!   script itself set), so a `GRANT` on a member function or view survives;
//! * the rows of *configuration tables* (`pg_extension_config_dump`: `extconfig` and
//!   `extcondition`), dumped as table data even though the table definition is not,
//!   filtered by the stored `WHERE` condition through `COPY (SELECT ...) TO stdout`;
//! * `ALTER ... DEPENDS ON EXTENSION e` for objects that merely depend on one
//!   (`pg_depend` deptype `'x'`), written by the kinds that have it.
//!
//! The same `pg_init_privs` rule gives the `pg_catalog` schema its only dumped
//! component: privileges on the schema and its relations that differ from initdb's.
//!
//! This module also owns the catalog of `pg_init_privs` rows and the ACL rule built on
//! it ([`acl_with_init`]), which every kind with privileges can use.

use super::KindPayload;
use crate::dump::catalog::{oid, query, text_array, Catalog, Depend, Namespace, Relation};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{catalog_oid, Graph, Obj, ObjKind, Payload};
use crate::dump::select::Selection;
use crate::dump::DumpOptions;
use crate::error::Result;
use crate::sql::{quote_ident, AclTarget};
use std::collections::{HashMap, HashSet};
use tokio_postgres::Client;

/// `pg_extension`'s OID: the catalog id of extension objects.
pub(crate) const PG_EXTENSION: u32 = 3079;

/// Objects with OIDs below this were made by initdb (`FirstNormalObjectId`).
const FIRST_NORMAL_OID: u32 = 16384;

/// An extension.
#[derive(Debug, Clone)]
pub(crate) struct Extension {
    pub oid: u32,
    pub name: String,
    /// The schema it was installed in.
    pub schema: String,
    /// Configuration tables (`extconfig`), with the matching filter conditions
    /// (`extcondition`, `""` for none).
    pub config: Vec<(u32, String)>,
}

/// A column privilege of a relation whose only dumped component is its ACL.
#[derive(Debug, Clone)]
pub(crate) struct ColumnAcl {
    pub name: String,
    /// `attacl`; `None` when NULL.
    pub acl: Option<Vec<String>>,
    /// The column's `pg_init_privs` entry, if any.
    pub init: Option<Vec<String>>,
}

/// What this module reads.
#[derive(Debug, Default)]
pub(crate) struct Extensions {
    pub list: Vec<Extension>,
    /// `pg_init_privs.initprivs` by (classoid, objoid, objsubid).
    pub init_privs: HashMap<(u32, u32, i32), Vec<String>>,
    /// Extensions each object depends on with deptype `'x'`, by (classid, objid), in
    /// the order pg_dump lists them.
    pub depends_on: HashMap<(u32, u32), Vec<String>>,
    /// Column privileges (granted or initial) by relation OID, in column order.
    pub column_acls: HashMap<u32, Vec<ColumnAcl>>,
}

/// Reads extensions, `pg_init_privs`, `'x'` dependencies and column privileges, and
/// records every extension member as depending on its extension (pg_dump orders
/// members after their extension even though it never dumps them).
pub(crate) async fn read(client: &Client, _version: i32, catalog: &mut Catalog) -> Result<()> {
    let sql = "SELECT x.oid, x.extname, n.nspname, \
               COALESCE(x.extconfig, '{}')::pg_catalog.oid[] AS extconfig, \
               COALESCE(x.extcondition, '{}')::text[] AS extcondition \
               FROM pg_catalog.pg_extension x \
               JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace ORDER BY x.oid";
    for row in query(client, "extensions", sql, &[]).await? {
        let config: Vec<u32> = row.get("extconfig");
        let conditions = text_array(&row, "extcondition");
        catalog.kinds.extensions.list.push(Extension {
            oid: oid(&row, "oid"),
            name: row.get("extname"),
            schema: row.get("nspname"),
            config: config
                .into_iter()
                .zip(
                    conditions
                        .into_iter()
                        .chain(std::iter::repeat(String::new())),
                )
                .collect(),
        });
    }
    let sql = "SELECT objoid, classoid, objsubid, initprivs::text[] AS initprivs \
               FROM pg_catalog.pg_init_privs";
    for row in query(client, "initial privileges", sql, &[]).await? {
        catalog.kinds.extensions.init_privs.insert(
            (
                oid(&row, "classoid"),
                oid(&row, "objoid"),
                row.get("objsubid"),
            ),
            text_array(&row, "initprivs"),
        );
    }
    let sql = "SELECT d.classid, d.objid, e.extname FROM pg_catalog.pg_depend d \
               JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid \
               WHERE d.deptype = 'x' AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass \
               ORDER BY d.classid, d.objid, d.objsubid, d.ctid";
    for row in query(client, "extension dependencies", sql, &[]).await? {
        catalog
            .kinds
            .extensions
            .depends_on
            .entry((oid(&row, "classid"), oid(&row, "objid")))
            .or_default()
            .push(row.get("extname"));
    }
    // No attnum filter: pg_dump dumps privileges on system columns too.
    let sql = "SELECT at.attrelid, at.attname, at.attacl::text[] AS attacl, \
               pip.initprivs::text[] AS initprivs \
               FROM pg_catalog.pg_attribute at \
               LEFT JOIN pg_catalog.pg_init_privs pip ON at.attrelid = pip.objoid \
                 AND pip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                 AND at.attnum = pip.objsubid \
               WHERE NOT at.attisdropped AND (at.attacl IS NOT NULL OR pip.initprivs IS NOT NULL) \
               ORDER BY at.attrelid, at.attnum";
    for row in query(client, "column privileges", sql, &[]).await? {
        catalog
            .kinds
            .extensions
            .column_acls
            .entry(oid(&row, "attrelid"))
            .or_default()
            .push(ColumnAcl {
                name: row.get("attname"),
                acl: row.get("attacl"),
                init: row.get("initprivs"),
            });
    }
    let sql = "SELECT classid, objid, refobjid FROM pg_catalog.pg_depend \
               WHERE deptype = 'e' AND refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass";
    for row in query(client, "extension members", sql, &[]).await? {
        catalog.depends.push(Depend {
            classid: oid(&row, "classid"),
            objid: oid(&row, "objid"),
            refclassid: PG_EXTENSION,
            refobjid: oid(&row, "refobjid"),
            deptype: b'e',
        });
    }
    Ok(())
}

/// Applies extension membership and the `pg_catalog` rule to the selection:
///
/// * members are never dumped; in a whole-database dump their privileges are, as are
///   those of `pg_catalog` and its relations ([`Selection::acl_only`]);
/// * configuration tables of dumped extensions (or explicitly selected ones) have
///   their data dumped ([`Selection::config_tables`]).
pub(crate) fn apply_selection(catalog: &Catalog, opts: &DumpOptions, sel: &mut Selection) {
    let members = &catalog.ext_members;
    let pg_class = catalog_oid::PG_CLASS;
    let member_tables: HashSet<u32> = catalog
        .relations
        .iter()
        .filter(|r| members.contains(&(pg_class, r.oid)))
        .map(|r| r.oid)
        .collect();
    // Which tables the -t/-T/-N switches chose, before members are taken out.
    let explicitly_selected: HashSet<u32> = if opts.tables.is_empty() {
        HashSet::new()
    } else {
        sel.tables.clone()
    };
    sel.tables.retain(|t| !member_tables.contains(t));
    if sel.whole_database {
        let pg_catalog = catalog
            .namespaces
            .iter()
            .find(|n| n.name == "pg_catalog")
            .map(|n| n.oid);
        // -N pg_catalog drops it, like any other schema; it is "selected" here only
        // in that it was not excluded.
        let catalog_kept = pg_catalog.filter(|o| !sel.excluded_schemas.contains(o));
        if let Some(nsp) = catalog_kept {
            sel.acl_only.insert((catalog_oid::PG_NAMESPACE, nsp));
        }
        for rel in &catalog.relations {
            let in_catalog = Some(rel.nsp_oid) == catalog_kept;
            if rel.kind != b'c' && (member_tables.contains(&rel.oid) || in_catalog) {
                sel.acl_only.insert((pg_class, rel.oid));
            }
        }
    }
    select_config_tables(catalog, opts, sel, &explicitly_selected);
}

/// pg_dump's `processExtensionTables`: which configuration tables' data is dumped.
fn select_config_tables(
    catalog: &Catalog,
    opts: &DumpOptions,
    sel: &mut Selection,
    explicitly_selected: &HashSet<u32>,
) {
    let rels: HashMap<u32, &Relation> = catalog.relations.iter().map(|r| (r.oid, r)).collect();
    for ext in &catalog.kinds.extensions.list {
        let ext_dumped = sel.whole_database && ext.oid >= FIRST_NORMAL_OID;
        for (table, condition) in &ext.config {
            let Some(rel) = rels.get(table) else { continue };
            // With -n, a schema's namespace is dumped as a whole; with -t, a table
            // named explicitly.
            let mut dump = ext_dumped
                || explicitly_selected.contains(table)
                || (opts.tables.is_empty() && sel.schemas.contains(&rel.nsp_oid));
            if sel.excluded_tables.contains(table) || sel.excluded_schemas.contains(&rel.nsp_oid) {
                dump = false;
            }
            // Views, foreign and partitioned tables have no data of their own.
            let has_data = matches!(rel.kind, b'r' | b'S' | b'm');
            if dump && has_data && !sel.no_data.contains(table) {
                sel.config_tables.insert(*table, condition.clone());
            }
        }
    }
}

/// One EXTENSION object per extension.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, _sel: &Selection) {
    for (i, x) in catalog.kinds.extensions.list.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::Extension,
            (PG_EXTENSION, x.oid),
            &x.name,
            None,
            Payload::Kind(KindPayload::Extension(i)),
        ));
    }
}

/// `CREATE EXTENSION` and the extension's comment, for extensions made after initdb
/// in a whole-database dump.
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, i: usize) -> Result<()> {
    let x = &e.catalog.kinds.extensions.list[i];
    if !e.sel.whole_database || x.oid < FIRST_NORMAL_OID || e.opts.data_only {
        return Ok(());
    }
    let q = quote_ident(&x.name);
    let mut entry = Entry::new(x.name.clone(), "EXTENSION", None, "");
    entry.ownerless = true;
    entry.create = format!(
        "CREATE EXTENSION IF NOT EXISTS {q} WITH SCHEMA {};\n",
        quote_ident(&x.schema)
    );
    entry.drop = format!("DROP EXTENSION {q};\n");
    e.push(entry);
    if let Some(text) = e.comment_of(PG_EXTENSION, x.oid, 0).map(str::to_string) {
        e.comment("EXTENSION", &q, None, "", &text);
    }
    super::seclabels::label(e, "EXTENSION", &q, None, "", PG_EXTENSION, x.oid, 0);
    Ok(())
}

/// The `pg_init_privs` entry of an object (sub-object `subid`, 0 for the object).
pub(crate) fn init_privs(
    catalog: &Catalog,
    classoid: u32,
    oid: u32,
    subid: i32,
) -> Option<&[String]> {
    catalog
        .kinds
        .extensions
        .init_privs
        .get(&(classoid, oid, subid))
        .map(Vec::as_slice)
}

/// pg_dump's `dumpACL` rule for choosing what to diff: against the initial privileges
/// when the object has them (a NULL ACL then means the type default), else against
/// the type default (a NULL ACL then means nothing to dump).
pub(crate) fn acl_with_init(
    e: &mut Emitter<'_>,
    target: &AclTarget<'_>,
    acl: Option<&[String]>,
    acl_default: &[String],
    init: Option<&[String]>,
    tag: String,
) -> Result<()> {
    match (init, acl) {
        (Some(init), acl) => e.acl(target, acl.unwrap_or(acl_default), init, tag),
        (None, Some(acl)) => e.acl(target, acl, acl_default, tag),
        (None, None) => Ok(()),
    }
}

/// The privileges of a relation whose only dumped component is its ACL (an extension
/// member or a `pg_catalog` relation), table and columns.
pub(crate) fn emit_relation_acl(e: &mut Emitter<'_>, rel: &Relation) -> Result<()> {
    let columns = e.catalog.kinds.extensions.column_acls.get(&rel.oid);
    // pg_dump considers the ACL component only if there is something to look at.
    if rel.acl.is_none() && columns.is_none() {
        return Ok(());
    }
    let kind = if rel.kind == b'S' {
        "SEQUENCE"
    } else {
        "TABLE"
    };
    let q = quote_ident(&rel.name);
    let target = AclTarget {
        kind,
        name: &q,
        subname: None,
        namespace: Some(&rel.schema),
        owner: Some(&rel.owner),
    };
    let init = init_privs(e.catalog, catalog_oid::PG_CLASS, rel.oid, 0);
    acl_with_init(
        e,
        &target,
        rel.acl.as_deref(),
        &rel.acl_default,
        init,
        format!("{kind} {q}"),
    )?;
    let Some(columns) = columns else {
        return Ok(());
    };
    for col in columns {
        let qc = quote_ident(&col.name);
        let target = AclTarget {
            kind: "TABLE",
            name: &q,
            subname: Some(&qc),
            namespace: Some(&rel.schema),
            owner: Some(&rel.owner),
        };
        // The default ACL of a column is empty.
        acl_with_init(
            e,
            &target,
            col.acl.as_deref(),
            &[],
            col.init.as_deref(),
            format!("COLUMN {q}.{qc}"),
        )?;
    }
    Ok(())
}

/// The privileges of a schema whose only dumped component is its ACL (`pg_catalog`).
pub(crate) fn emit_namespace_acl(e: &mut Emitter<'_>, ns: &Namespace) -> Result<()> {
    let q = quote_ident(&ns.name);
    let target = AclTarget {
        kind: "SCHEMA",
        name: &q,
        subname: None,
        namespace: None,
        owner: Some(&ns.owner),
    };
    let init = init_privs(e.catalog, catalog_oid::PG_NAMESPACE, ns.oid, 0);
    if ns.acl.is_none() {
        return Ok(());
    }
    acl_with_init(
        e,
        &target,
        ns.acl.as_deref(),
        &ns.acl_default,
        init,
        format!("SCHEMA {q}"),
    )
}

/// `ALTER <keyword> <name> DEPENDS ON EXTENSION e;` lines for an object with `'x'`
/// dependencies (`name` already quoted and qualified as the statement needs it).
///
/// pg_dump 17 and later start each statement on a new line instead of ending it with
/// one, which leaves a blank line before them and none after.
pub(crate) fn depends_on_extension(
    catalog: &Catalog,
    version: i32,
    classid: u32,
    oid: u32,
    keyword: &str,
    name: &str,
) -> String {
    let mut s = String::new();
    if let Some(exts) = catalog.kinds.extensions.depends_on.get(&(classid, oid)) {
        for ext in exts {
            let stmt = format!(
                "ALTER {keyword} {name} DEPENDS ON EXTENSION {};",
                quote_ident(ext)
            );
            if version >= 170000 {
                s.push('\n');
                s.push_str(&stmt);
            } else {
                s.push_str(&stmt);
                s.push('\n');
            }
        }
    }
    s
}

/// Extension members as [`super::super::select::check_supported`] names them: (kind,
/// name, schema OID). Members are never dumped, so the check must not count them.
///
/// Only the kinds still on that list that extensions create are looked up (text
/// search objects, e.g. `unaccent`'s dictionary); relation-based entries need nothing,
/// as members are not in [`Selection::tables`].
pub(crate) async fn member_keys(client: &Client) -> Result<HashSet<(String, String, Option<u32>)>> {
    let sql = "WITH m AS (SELECT classid, objid FROM pg_catalog.pg_depend WHERE deptype = 'e') \
        SELECT 'text search configuration' AS kind, c.cfgname AS name, c.cfgnamespace AS nsp \
          FROM pg_catalog.pg_ts_config c JOIN m ON m.classid = 'pg_catalog.pg_ts_config'::pg_catalog.regclass AND m.objid = c.oid \
        UNION ALL SELECT 'text search dictionary', d.dictname, d.dictnamespace \
          FROM pg_catalog.pg_ts_dict d JOIN m ON m.classid = 'pg_catalog.pg_ts_dict'::pg_catalog.regclass AND m.objid = d.oid \
        UNION ALL SELECT 'text search parser', p.prsname, p.prsnamespace \
          FROM pg_catalog.pg_ts_parser p JOIN m ON m.classid = 'pg_catalog.pg_ts_parser'::pg_catalog.regclass AND m.objid = p.oid \
        UNION ALL SELECT 'text search template', t.tmplname, t.tmplnamespace \
          FROM pg_catalog.pg_ts_template t JOIN m ON m.classid = 'pg_catalog.pg_ts_template'::pg_catalog.regclass AND m.objid = t.oid";
    let rows = query(client, "extension members", sql, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("kind"), r.get("name"), r.get::<_, Option<u32>>("nsp")))
        .collect())
}
