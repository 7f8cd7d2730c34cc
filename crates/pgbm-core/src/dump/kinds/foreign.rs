//! Foreign-data wrappers, foreign servers with their user mappings, and the parts of
//! foreign tables that plain tables lack (`SERVER`, table and column `OPTIONS`).
//!
//! Wrappers and servers belong to no schema, so pg_dump writes them only in a
//! whole-database dump; user mappings come with their server (`pg_user_mappings`,
//! which hides the options of servers the dumping role may not see). A wrapper made by
//! an extension (`postgres_fdw`) is a member: only its privileges that differ from
//! `pg_init_privs` are dumped. Foreign tables are written by the table code in
//! [`crate::dump::emit`] with the clauses from [`server_clause`], [`options_clause`]
//! and [`column_options`]; their data is not dumped (pg_dump needs
//! `--include-foreign-data` for that, which pgbm does not offer).

use super::extensions::{acl_with_init, init_privs};
use super::KindPayload;
use crate::dump::catalog::{oid, query, text_array, Catalog};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{Graph, Obj, ObjKind, Payload};
use crate::dump::select::Selection;
use crate::error::Result;
use crate::sql::{quote_ident, quote_literal, AclTarget};
use std::collections::HashMap;
use tokio_postgres::Client;

/// `pg_foreign_data_wrapper`'s OID.
const PG_FOREIGN_DATA_WRAPPER: u32 = 2328;
/// `pg_foreign_server`'s OID.
const PG_FOREIGN_SERVER: u32 = 1417;

/// `option 'value', ...` as pg_dump formats generic options (`array_to_string` over
/// `pg_options_to_table`, sorted by name); `$1` is the options column.
fn options_sql(column: &str) -> String {
    format!(
        "pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(option_name) || ' ' || \
         pg_catalog.quote_literal(option_value) FROM pg_catalog.pg_options_to_table({column}) \
         ORDER BY option_name), E',\\n    ')"
    )
}

/// A foreign-data wrapper.
#[derive(Debug, Clone)]
pub(crate) struct Fdw {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    /// `regproc` text, `-` for none.
    pub handler: String,
    pub validator: String,
    /// Formatted options, `""` for none.
    pub options: String,
    pub acl: Option<Vec<String>>,
    pub acl_default: Vec<String>,
}

/// A foreign server.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    pub fdw: String,
    pub server_type: Option<String>,
    pub server_version: Option<String>,
    pub options: String,
    pub acl: Option<Vec<String>>,
    pub acl_default: Vec<String>,
    /// (user name, formatted options) from `pg_user_mappings`, by user name.
    pub mappings: Vec<(String, String)>,
}

/// The foreign-table part of a relation.
#[derive(Debug, Clone, Default)]
pub(crate) struct ForeignTable {
    pub server: String,
    pub options: String,
    /// Formatted column options by column number.
    pub column_options: HashMap<i32, String>,
}

/// What this module reads.
#[derive(Debug, Default)]
pub(crate) struct Foreign {
    pub fdws: Vec<Fdw>,
    pub servers: Vec<Server>,
    /// By relation OID.
    pub tables: HashMap<u32, ForeignTable>,
}

/// Which object a graph object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Fdw(usize),
    Server(usize),
}

/// Reads wrappers, servers, user mappings and foreign-table options (plain catalog
/// columns only, so this runs before the tables are locked).
pub(crate) async fn read(client: &Client, _version: i32, catalog: &mut Catalog) -> Result<()> {
    let sql = format!(
        "SELECT oid, fdwname, pg_catalog.pg_get_userbyid(fdwowner) AS owner, \
         fdwhandler::pg_catalog.regproc::text AS handler, \
         fdwvalidator::pg_catalog.regproc::text AS validator, \
         fdwacl::text[] AS acl, pg_catalog.acldefault('F', fdwowner)::text[] AS acldefault, \
         {} AS options FROM pg_catalog.pg_foreign_data_wrapper ORDER BY oid",
        options_sql("fdwoptions")
    );
    for row in query(client, "foreign-data wrappers", &sql, &[]).await? {
        catalog.kinds.foreign.fdws.push(Fdw {
            oid: oid(&row, "oid"),
            name: row.get("fdwname"),
            owner: row.get("owner"),
            handler: row.get("handler"),
            validator: row.get("validator"),
            options: row.get("options"),
            acl: row.get("acl"),
            acl_default: text_array(&row, "acldefault"),
        });
    }
    let sql = format!(
        "SELECT s.oid, s.srvname, pg_catalog.pg_get_userbyid(s.srvowner) AS owner, \
         w.fdwname, s.srvtype, s.srvversion, s.srvacl::text[] AS acl, \
         pg_catalog.acldefault('S', s.srvowner)::text[] AS acldefault, {} AS options \
         FROM pg_catalog.pg_foreign_server s \
         JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw ORDER BY s.oid",
        options_sql("s.srvoptions")
    );
    let mut by_oid = HashMap::new();
    for row in query(client, "foreign servers", &sql, &[]).await? {
        by_oid.insert(oid(&row, "oid"), catalog.kinds.foreign.servers.len());
        catalog.kinds.foreign.servers.push(Server {
            oid: oid(&row, "oid"),
            name: row.get("srvname"),
            owner: row.get("owner"),
            fdw: row.get("fdwname"),
            server_type: row.get("srvtype"),
            server_version: row.get("srvversion"),
            options: row.get("options"),
            acl: row.get("acl"),
            acl_default: text_array(&row, "acldefault"),
            mappings: Vec::new(),
        });
    }
    // The view, not pg_user_mapping: readable without superuser privileges.
    let sql = format!(
        "SELECT srvid, usename, {} AS options FROM pg_catalog.pg_user_mappings \
         ORDER BY srvid, usename",
        options_sql("umoptions")
    );
    for row in query(client, "user mappings", &sql, &[]).await? {
        if let Some(&i) = by_oid.get(&oid(&row, "srvid")) {
            catalog.kinds.foreign.servers[i]
                .mappings
                .push((row.get("usename"), row.get("options")));
        }
    }
    let sql = format!(
        "SELECT ft.ftrelid, fs.srvname, {} AS options FROM pg_catalog.pg_foreign_table ft \
         JOIN pg_catalog.pg_foreign_server fs ON fs.oid = ft.ftserver",
        options_sql("ft.ftoptions")
    );
    for row in query(client, "foreign tables", &sql, &[]).await? {
        catalog.kinds.foreign.tables.insert(
            oid(&row, "ftrelid"),
            ForeignTable {
                server: row.get("srvname"),
                options: row.get("options"),
                column_options: HashMap::new(),
            },
        );
    }
    let sql = format!(
        "SELECT a.attrelid, a.attnum::int4 AS attnum, {} AS options \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_foreign_table ft ON ft.ftrelid = a.attrelid \
         WHERE a.attfdwoptions IS NOT NULL AND NOT a.attisdropped",
        options_sql("a.attfdwoptions")
    );
    for row in query(client, "foreign table column options", &sql, &[]).await? {
        let options: String = row.get("options");
        if let Some(t) = catalog.kinds.foreign.tables.get_mut(&oid(&row, "attrelid")) {
            if !options.is_empty() {
                t.column_options.insert(row.get("attnum"), options);
            }
        }
    }
    Ok(())
}

/// One object per wrapper and per server.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, _sel: &Selection) {
    for (i, w) in catalog.kinds.foreign.fdws.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::Fdw,
            (PG_FOREIGN_DATA_WRAPPER, w.oid),
            &w.name,
            None,
            Payload::Kind(KindPayload::Foreign(Item::Fdw(i))),
        ));
    }
    for (i, s) in catalog.kinds.foreign.servers.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::ForeignServer,
            (PG_FOREIGN_SERVER, s.oid),
            &s.name,
            None,
            Payload::Kind(KindPayload::Foreign(Item::Server(i))),
        ));
    }
}

/// What of a schema-less object is dumped: everything (`Some(false)`), only the ACL
/// (`Some(true)`: an extension member) or nothing.
fn dumped(e: &Emitter<'_>, classid: u32, oid: u32) -> Option<bool> {
    if !e.sel.whole_database {
        return None;
    }
    Some(e.catalog.ext_members.contains(&(classid, oid)))
}

/// The entries of a wrapper or server.
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, item: Item) -> Result<()> {
    match item {
        Item::Fdw(i) => emit_fdw(e, i),
        Item::Server(i) => emit_server(e, i),
    }
}

fn emit_fdw(e: &mut Emitter<'_>, i: usize) -> Result<()> {
    let w = &e.catalog.kinds.foreign.fdws[i];
    let Some(acl_only) = dumped(e, PG_FOREIGN_DATA_WRAPPER, w.oid) else {
        return Ok(());
    };
    let q = quote_ident(&w.name);
    if !acl_only {
        let mut create = format!("CREATE FOREIGN DATA WRAPPER {q}");
        if w.handler != "-" {
            create.push_str(&format!(" HANDLER {}", w.handler));
        }
        if w.validator != "-" {
            create.push_str(&format!(" VALIDATOR {}", w.validator));
        }
        if !w.options.is_empty() {
            create.push_str(&format!(" OPTIONS (\n    {}\n)", w.options));
        }
        create.push_str(";\n");
        let mut entry = Entry::new(w.name.clone(), "FOREIGN DATA WRAPPER", None, &w.owner);
        entry.create = create;
        entry.drop = format!("DROP FOREIGN DATA WRAPPER {q};\n");
        entry.owner_object = Some(format!("FOREIGN DATA WRAPPER {q}"));
        e.push(entry);
        if let Some(text) = e
            .comment_of(PG_FOREIGN_DATA_WRAPPER, w.oid, 0)
            .map(str::to_string)
        {
            e.comment("FOREIGN DATA WRAPPER", &q, None, &w.owner, &text);
        }
    }
    let target = AclTarget {
        kind: "FOREIGN DATA WRAPPER",
        name: &q,
        subname: None,
        namespace: None,
        owner: Some(&w.owner),
    };
    let init = init_privs(e.catalog, PG_FOREIGN_DATA_WRAPPER, w.oid, 0);
    // pg_dump looks at the ACL only when it is not NULL.
    if w.acl.is_some() {
        acl_with_init(
            e,
            &target,
            w.acl.as_deref(),
            &w.acl_default,
            init,
            format!("FOREIGN DATA WRAPPER {q}"),
        )?;
    }
    Ok(())
}

fn emit_server(e: &mut Emitter<'_>, i: usize) -> Result<()> {
    let s = &e.catalog.kinds.foreign.servers[i];
    let Some(acl_only) = dumped(e, PG_FOREIGN_SERVER, s.oid) else {
        return Ok(());
    };
    let q = quote_ident(&s.name);
    if !acl_only {
        let mut create = format!("CREATE SERVER {q}");
        if let Some(t) = s.server_type.as_deref().filter(|t| !t.is_empty()) {
            create.push_str(&format!(" TYPE {}", quote_literal(t)));
        }
        if let Some(v) = s.server_version.as_deref().filter(|v| !v.is_empty()) {
            create.push_str(&format!(" VERSION {}", quote_literal(v)));
        }
        create.push_str(&format!(" FOREIGN DATA WRAPPER {}", quote_ident(&s.fdw)));
        if !s.options.is_empty() {
            create.push_str(&format!(" OPTIONS (\n    {}\n)", s.options));
        }
        create.push_str(";\n");
        let mut entry = Entry::new(s.name.clone(), "SERVER", None, &s.owner);
        entry.create = create;
        entry.drop = format!("DROP SERVER {q};\n");
        entry.owner_object = Some(format!("SERVER {q}"));
        e.push(entry);
        if let Some(text) = e
            .comment_of(PG_FOREIGN_SERVER, s.oid, 0)
            .map(str::to_string)
        {
            e.comment("SERVER", &q, None, &s.owner, &text);
        }
    }
    let target = AclTarget {
        kind: "FOREIGN SERVER",
        name: &q,
        subname: None,
        namespace: None,
        owner: Some(&s.owner),
    };
    let init = init_privs(e.catalog, PG_FOREIGN_SERVER, s.oid, 0);
    if s.acl.is_some() {
        acl_with_init(
            e,
            &target,
            s.acl.as_deref(),
            &s.acl_default,
            init,
            format!("FOREIGN SERVER {q}"),
        )?;
    }
    if !acl_only {
        user_mappings(e, i);
    }
    Ok(())
}

/// `CREATE USER MAPPING` entries of server `i` (pg_dump's `dumpUserMappings`).
fn user_mappings(e: &mut Emitter<'_>, i: usize) {
    let s = &e.catalog.kinds.foreign.servers[i];
    let qs = quote_ident(&s.name);
    let mut entries = Vec::new();
    for (user, options) in &s.mappings {
        let qu = quote_ident(user);
        let mut create = format!("CREATE USER MAPPING FOR {qu} SERVER {qs}");
        if !options.is_empty() {
            create.push_str(&format!(" OPTIONS (\n    {options}\n)"));
        }
        create.push_str(";\n");
        let mut entry = Entry::new(
            format!("USER MAPPING {user} SERVER {}", s.name),
            "USER MAPPING",
            None,
            &s.owner,
        );
        entry.create = create;
        entry.drop = format!("DROP USER MAPPING FOR {qu} SERVER {qs};\n");
        entries.push(entry);
    }
    for entry in entries {
        e.push(entry);
    }
}

/// `\nSERVER s` for the CREATE FOREIGN TABLE of relation `rel`.
pub(crate) fn server_clause(catalog: &Catalog, rel: u32) -> String {
    catalog
        .kinds
        .foreign
        .tables
        .get(&rel)
        .map(|t| format!("\nSERVER {}", quote_ident(&t.server)))
        .unwrap_or_default()
}

/// `\nOPTIONS (...)` for the CREATE FOREIGN TABLE of relation `rel`, if it has options.
pub(crate) fn options_clause(catalog: &Catalog, rel: u32) -> String {
    match catalog.kinds.foreign.tables.get(&rel) {
        Some(t) if !t.options.is_empty() => format!("\nOPTIONS (\n    {}\n)", t.options),
        _ => String::new(),
    }
}

/// `ALTER FOREIGN TABLE [ONLY] t ALTER COLUMN c OPTIONS (...);` for a column with
/// options (pg_dump 17 added `ONLY`).
pub(crate) fn column_options(
    catalog: &Catalog,
    version: i32,
    rel: u32,
    qrel: &str,
    num: i32,
    qcol: &str,
) -> String {
    let only = if version >= 170000 { "ONLY " } else { "" };
    match catalog
        .kinds
        .foreign
        .tables
        .get(&rel)
        .and_then(|t| t.column_options.get(&num))
    {
        Some(options) => format!(
            "ALTER FOREIGN TABLE {only}{qrel} ALTER COLUMN {qcol} OPTIONS (\n    {options}\n);\n"
        ),
        None => String::new(),
    }
}
