//! Default privileges (`ALTER DEFAULT PRIVILEGES`), one entry per `pg_default_acl`
//! row.
//!
//! A global entry (no schema) replaces the built-in default of its object type, so it
//! is written as the difference from `acldefault()`; a per-schema entry can only add
//! privileges, so it is written as the difference from an empty ACL. Per-schema
//! entries are dumped with their schema's contents, global ones only in a
//! whole-database dump. All of them print in the ACL pass.

use super::KindPayload;
use crate::dump::catalog::{byte, oid, query, text_array, Catalog};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{Graph, Obj, ObjKind, Payload, Tiebreak};
use crate::dump::select::Selection;
use crate::error::{Error, Result};
use crate::sql::build_default_acl_commands;
use tokio_postgres::Client;

/// `pg_default_acl`'s OID.
const PG_DEFAULT_ACL: u32 = 826;

/// A `pg_default_acl` row.
#[derive(Debug, Clone)]
pub(crate) struct DefaultAcl {
    pub oid: u32,
    pub role: String,
    /// `defaclnamespace`, 0 for a global entry.
    pub nsp_oid: u32,
    pub schema: Option<String>,
    /// `r` tables, `S` sequences, `f` functions, `T` types, `n` schemas, `L` large
    /// objects (18+).
    pub objtype: u8,
    pub acl: Vec<String>,
    pub acl_default: Vec<String>,
}

/// What this module reads.
#[derive(Debug, Default)]
pub(crate) struct DefaultAcls {
    pub list: Vec<DefaultAcl>,
}

/// Reads every default-privileges entry.
pub(crate) async fn read(client: &Client, _version: i32, catalog: &mut Catalog) -> Result<()> {
    let sql = "SELECT d.oid, pg_catalog.pg_get_userbyid(d.defaclrole) AS role, d.defaclnamespace, \
               n.nspname, d.defaclobjtype, d.defaclacl::text[] AS acl, \
               CASE WHEN d.defaclnamespace = 0 THEN \
                 pg_catalog.acldefault(CASE WHEN d.defaclobjtype = 'S' THEN 's'::\"char\" \
                   ELSE d.defaclobjtype END, d.defaclrole) \
               ELSE '{}' END::text[] AS acldefault \
               FROM pg_catalog.pg_default_acl d \
               LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace ORDER BY d.oid";
    for row in query(client, "default privileges", sql, &[]).await? {
        catalog.kinds.defaultacls.list.push(DefaultAcl {
            oid: oid(&row, "oid"),
            role: row.get("role"),
            nsp_oid: oid(&row, "defaclnamespace"),
            schema: row.get("nspname"),
            objtype: byte(&row, "defaclobjtype"),
            acl: text_array(&row, "acl"),
            acl_default: text_array(&row, "acldefault"),
        });
    }
    Ok(())
}

/// One object per entry, named (as pg_dump names it) by the object-type letter and
/// sorted after schema and letter by role.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, _sel: &Selection) {
    for (i, d) in catalog.kinds.defaultacls.list.iter().enumerate() {
        let mut obj = Graph::new_obj(
            ObjKind::DefaultAcl,
            (PG_DEFAULT_ACL, d.oid),
            &char::from(d.objtype).to_string(),
            d.schema.as_deref(),
            Payload::Kind(KindPayload::DefaultAcl(i)),
        );
        obj.tiebreak = Tiebreak::Table(d.role.clone());
        g.add(obj);
    }
}

/// The keyword of an object-type letter (`TABLES`, ...).
fn keyword(objtype: u8) -> Result<&'static str> {
    Ok(match objtype {
        b'r' => "TABLES",
        b'S' => "SEQUENCES",
        b'f' => "FUNCTIONS",
        b'T' => "TYPES",
        b'n' => "SCHEMAS",
        b'L' => "LARGE OBJECTS",
        other => {
            return Err(Error::unsupported(format!(
                "unrecognized object type in default privileges: {:?}",
                char::from(other)
            )))
        }
    })
}

/// The `DEFAULT ACL` entry of one row.
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, i: usize) -> Result<()> {
    let d = &e.catalog.kinds.defaultacls.list[i];
    let dumped = if d.nsp_oid == 0 {
        e.sel.whole_database
    } else {
        e.sel.schemas.contains(&d.nsp_oid)
    };
    if !dumped || e.opts.data_only || e.opts.no_privileges {
        return Ok(());
    }
    let kind = keyword(d.objtype)?;
    let sql = build_default_acl_commands(
        kind,
        d.schema.as_deref(),
        &d.acl,
        &d.acl_default,
        &d.role,
        e.version,
    )?;
    let mut entry = Entry::new(
        format!("DEFAULT PRIVILEGES FOR {kind}"),
        "DEFAULT ACL",
        d.schema.as_deref(),
        &d.role,
    );
    entry.create = sql;
    e.push(entry);
    Ok(())
}
