//! Range types (pg_dump's `dumpRangeType`).

use super::{collation_name, index_by_oid, type_entries, TypeHead, Types};
use crate::dump::catalog::{oid, query};
use crate::dump::emit::Emitter;
use crate::error::Result;
use crate::sql::qualified;
use tokio_postgres::Client;

/// A range type.
#[derive(Debug, Clone)]
pub(crate) struct RangeType {
    pub head: TypeHead,
    /// `format_type` of the subtype.
    pub subtype: String,
    /// `format_type` of the multirange type (14+).
    pub multirange: Option<String>,
    /// Qualified, quoted subtype operator class, unless it is the subtype's default.
    pub opclass: Option<String>,
    /// Qualified, quoted collation, unless it is the subtype's.
    pub collation: Option<String>,
    /// The canonical function (`regproc` text), if any.
    pub canonical: Option<String>,
    /// The subtype_diff function (`regproc` text), if any.
    pub subtype_diff: Option<String>,
}

impl RangeType {
    /// A range type whose details are still to be read.
    pub(crate) fn new(head: TypeHead) -> Self {
        RangeType {
            head,
            subtype: String::new(),
            multirange: None,
            opclass: None,
            collation: None,
            canonical: None,
            subtype_diff: None,
        }
    }
}

/// Reads the details of all range types.
pub(crate) async fn read(client: &Client, version: i32, types: &mut Types) -> Result<()> {
    if types.ranges.is_empty() {
        return Ok(());
    }
    let by_oid = index_by_oid(types.ranges.iter().map(|r| &r.head));
    // Multiranges exist from 14 on.
    let multirange = if version >= 140000 {
        "pg_catalog.format_type(r.rngmultitypid, NULL)"
    } else {
        "NULL::text"
    };
    let sql = format!(
        "SELECT r.rngtypid, {multirange} AS rngmultitype, \
         pg_catalog.format_type(r.rngsubtype, NULL) AS rngsubtype, \
         opc.opcname, opcn.nspname AS opcnsp, opc.opcdefault, \
         cn.nspname AS collnsp, co.collname, \
         CASE WHEN r.rngcanonical::pg_catalog.oid <> 0 THEN r.rngcanonical::pg_catalog.text END AS canonical, \
         CASE WHEN r.rngsubdiff::pg_catalog.oid <> 0 THEN r.rngsubdiff::pg_catalog.text END AS subdiff \
         FROM pg_catalog.pg_range r \
         JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype \
         JOIN pg_catalog.pg_opclass opc ON opc.oid = r.rngsubopc \
         JOIN pg_catalog.pg_namespace opcn ON opcn.oid = opc.opcnamespace \
         LEFT JOIN pg_catalog.pg_collation co ON co.oid = r.rngcollation \
              AND r.rngcollation <> st.typcollation \
         LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
         WHERE r.rngtypid >= 16384"
    );
    for row in query(client, "range types", &sql, &[]).await? {
        let Some(&i) = by_oid.get(&oid(&row, "rngtypid")) else {
            continue;
        };
        let r = &mut types.ranges[i];
        r.subtype = row.get("rngsubtype");
        r.multirange = row.get("rngmultitype");
        if !row.get::<_, bool>("opcdefault") {
            let nsp: String = row.get("opcnsp");
            let name: String = row.get("opcname");
            r.opclass = Some(qualified(&nsp, &name));
        }
        r.collation = collation_name(&row);
        r.canonical = row.get("canonical");
        r.subtype_diff = row.get("subdiff");
    }
    Ok(())
}

/// CREATE TYPE ... AS RANGE, its comment and ACL.
pub(crate) fn emit(e: &mut Emitter<'_>, i: usize) -> Result<()> {
    let r = &e.catalog.kinds.types.ranges[i];
    let mut create = format!(
        "CREATE TYPE {} AS RANGE (\n    subtype = {}",
        r.head.qualified(),
        r.subtype
    );
    let options = [
        ("multirange_type_name", &r.multirange),
        ("subtype_opclass", &r.opclass),
        ("collation", &r.collation),
        ("canonical", &r.canonical),
        ("subtype_diff", &r.subtype_diff),
    ];
    for (name, value) in options {
        if let Some(v) = value {
            create.push_str(&format!(",\n    {name} = {v}"));
        }
    }
    create.push_str("\n);\n");
    type_entries(e, &r.head, "TYPE", create, false)
}
