//! Base types (pg_dump's `dumpBaseType`): `CREATE TYPE t (INPUT = ..., OUTPUT = ...)`.
//!
//! A base type and its I/O functions depend on each other; the loop repair in
//! [`super::repair_loop`] makes the functions depend on the type's shell instead, so
//! the dump reads `CREATE TYPE t;`, the functions, then the full definition.

use super::{index_by_oid, type_entries, TypeHead, Types};
use crate::dump::catalog::{byte, oid, query};
use crate::dump::emit::Emitter;
use crate::error::Result;
use crate::sql::quote_literal;
use tokio_postgres::Client;

/// A base type's definition.
#[derive(Debug, Clone)]
pub(crate) struct BaseType {
    pub head: TypeHead,
    pub len: i16,
    /// Functions as `regproc` text; optional ones are `None` when unset.
    pub input: String,
    pub output: String,
    pub receive: Option<String>,
    pub send: Option<String>,
    pub typmod_in: Option<String>,
    pub typmod_out: Option<String>,
    pub analyze: Option<String>,
    /// 14+.
    pub subscript: Option<String>,
    pub collatable: bool,
    /// The DEFAULT option's text: a deparsed expression or a quoted literal.
    pub default: Option<String>,
    /// `format_type` of the element type, if any.
    pub element: Option<String>,
    pub category: String,
    pub preferred: bool,
    pub delim: String,
    pub align: u8,
    pub storage: u8,
    pub by_value: bool,
}

impl BaseType {
    /// A base type whose details are still to be read.
    pub(crate) fn new(head: TypeHead) -> Self {
        BaseType {
            head,
            len: -1,
            input: String::new(),
            output: String::new(),
            receive: None,
            send: None,
            typmod_in: None,
            typmod_out: None,
            analyze: None,
            subscript: None,
            collatable: false,
            default: None,
            element: None,
            category: String::new(),
            preferred: false,
            delim: String::new(),
            align: 0,
            storage: 0,
            by_value: false,
        }
    }
}

/// `col::text` when the function is set (a zero `regproc` prints as `-`).
fn optional_proc(col: &str) -> String {
    format!("CASE WHEN t.{col}::pg_catalog.oid <> 0 THEN t.{col}::pg_catalog.text END AS {col}")
}

/// Reads the details of all base types.
pub(crate) async fn read(client: &Client, version: i32, types: &mut Types) -> Result<()> {
    if types.bases.is_empty() {
        return Ok(());
    }
    let by_oid = index_by_oid(types.bases.iter().map(|b| &b.head));
    let mut procs: Vec<String> = [
        "typreceive",
        "typsend",
        "typmodin",
        "typmodout",
        "typanalyze",
    ]
    .iter()
    .map(|c| optional_proc(c))
    .collect();
    // Subscripting functions exist from 14 on.
    procs.push(if version >= 140000 {
        optional_proc("typsubscript")
    } else {
        "NULL::text AS typsubscript".to_string()
    });
    let sql = format!(
        "SELECT t.oid, t.typlen, t.typinput::pg_catalog.text AS typinput, \
         t.typoutput::pg_catalog.text AS typoutput, {}, \
         t.typcategory::pg_catalog.text AS typcategory, t.typispreferred, \
         t.typdelim::pg_catalog.text AS typdelim, t.typbyval, t.typalign, t.typstorage, \
         t.typcollation <> 0 AS typcollatable, \
         pg_catalog.pg_get_expr(t.typdefaultbin, 0) AS typdefaultbin, t.typdefault, \
         CASE WHEN t.typelem <> 0 THEN pg_catalog.format_type(t.typelem, NULL) END AS typelem \
         FROM pg_catalog.pg_type t WHERE t.typtype = 'b' AND t.oid >= 16384",
        procs.join(", ")
    );
    for row in query(client, "base types", &sql, &[]).await? {
        let Some(&i) = by_oid.get(&oid(&row, "oid")) else {
            continue;
        };
        let b = &mut types.bases[i];
        b.len = row.get("typlen");
        b.input = row.get("typinput");
        b.output = row.get("typoutput");
        b.receive = row.get("typreceive");
        b.send = row.get("typsend");
        b.typmod_in = row.get("typmodin");
        b.typmod_out = row.get("typmodout");
        b.analyze = row.get("typanalyze");
        b.subscript = row.get("typsubscript");
        b.collatable = row.get("typcollatable");
        let expr: Option<String> = row.get("typdefaultbin");
        let literal: Option<String> = row.get("typdefault");
        b.default = expr.or_else(|| literal.map(|l| quote_literal(&l)));
        b.element = row.get("typelem");
        b.category = row.get("typcategory");
        b.preferred = row.get("typispreferred");
        b.delim = row.get("typdelim");
        b.align = byte(&row, "typalign");
        b.storage = byte(&row, "typstorage");
        b.by_value = row.get("typbyval");
    }
    Ok(())
}

/// CREATE TYPE with the full definition (dropped with CASCADE), comment and ACL.
pub(crate) fn emit(e: &mut Emitter<'_>, i: usize) -> Result<()> {
    let b = &e.catalog.kinds.types.bases[i];
    let create = definition(b);
    type_entries(e, &b.head, "TYPE", create, true)
}

/// The CREATE TYPE statement, options in pg_dump's order.
fn definition(b: &BaseType) -> String {
    let len = if b.len == -1 {
        "variable".to_string()
    } else {
        b.len.to_string()
    };
    let mut opts: Vec<String> = vec![
        format!("INTERNALLENGTH = {len}"),
        format!("INPUT = {}", b.input),
        format!("OUTPUT = {}", b.output),
    ];
    let procs = [
        ("RECEIVE", &b.receive),
        ("SEND", &b.send),
        ("TYPMOD_IN", &b.typmod_in),
        ("TYPMOD_OUT", &b.typmod_out),
        ("ANALYZE", &b.analyze),
    ];
    opts.extend(
        procs
            .iter()
            .filter_map(|(name, f)| f.as_ref().map(|f| format!("{name} = {f}"))),
    );
    if b.collatable {
        opts.push("COLLATABLE = true".into());
    }
    if let Some(d) = &b.default {
        opts.push(format!("DEFAULT = {d}"));
    }
    if let Some(s) = &b.subscript {
        opts.push(format!("SUBSCRIPT = {s}"));
    }
    if let Some(el) = &b.element {
        opts.push(format!("ELEMENT = {el}"));
    }
    if b.category != "U" {
        opts.push(format!("CATEGORY = {}", quote_literal(&b.category)));
    }
    if b.preferred {
        opts.push("PREFERRED = true".into());
    }
    if b.delim != "," {
        opts.push(format!("DELIMITER = {}", quote_literal(&b.delim)));
    }
    let align = match b.align {
        b'c' => Some("char"),
        b's' => Some("int2"),
        b'i' => Some("int4"),
        b'd' => Some("double"),
        _ => None,
    };
    opts.extend(align.map(|a| format!("ALIGNMENT = {a}")));
    let storage = match b.storage {
        b'p' => Some("plain"),
        b'e' => Some("external"),
        b'x' => Some("extended"),
        b'm' => Some("main"),
        _ => None,
    };
    opts.extend(storage.map(|s| format!("STORAGE = {s}")));
    if b.by_value {
        opts.push("PASSEDBYVALUE".into());
    }
    format!(
        "CREATE TYPE {} (\n    {}\n);\n",
        b.head.qualified(),
        opts.join(",\n    ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_follows_pg_dump_order() {
        let mut b = BaseType::new(TypeHead {
            oid: 1,
            nsp_oid: 2,
            schema: "s".into(),
            name: "int42".into(),
            owner: "o".into(),
            acl: None,
            acl_default: Vec::new(),
        });
        b.len = 4;
        b.input = "s.int42_in".into();
        b.output = "s.int42_out".into();
        b.default = Some("'42'".into());
        b.category = "U".into();
        b.delim = ",".into();
        b.align = b'i';
        b.storage = b'p';
        b.by_value = true;
        assert_eq!(
            definition(&b),
            "CREATE TYPE s.int42 (\n    INTERNALLENGTH = 4,\n    INPUT = s.int42_in,\n    \
             OUTPUT = s.int42_out,\n    DEFAULT = '42',\n    ALIGNMENT = int4,\n    \
             STORAGE = plain,\n    PASSEDBYVALUE\n);\n"
        );
    }
}
