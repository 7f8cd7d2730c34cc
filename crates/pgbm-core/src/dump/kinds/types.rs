//! User-defined types. So far: enum types.

use super::{selected, KindPayload};
use crate::dump::catalog::{oid, query, text_array, Catalog};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{catalog_oid, Graph, Obj, ObjKind, Payload};
use crate::dump::select::Selection;
use crate::error::Result;
use crate::sql::{qualified, quote_ident, quote_literal, AclTarget};
use tokio_postgres::Client;

/// An enum type.
#[derive(Debug, Clone)]
pub(crate) struct EnumType {
    pub oid: u32,
    pub nsp_oid: u32,
    pub schema: String,
    pub name: String,
    pub owner: String,
    pub labels: Vec<String>,
    pub acl: Option<Vec<String>>,
    pub acl_default: Vec<String>,
}

/// The types read from the catalog.
#[derive(Debug, Default)]
pub(crate) struct Types {
    pub enums: Vec<EnumType>,
}

/// Which type a graph object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Enum(usize),
}

/// Reads user-defined types.
pub(crate) async fn read(client: &Client, _version: i32, catalog: &mut Catalog) -> Result<()> {
    let sql = "SELECT t.oid, t.typnamespace, n.nspname, t.typname, \
               pg_catalog.pg_get_userbyid(t.typowner) AS owner, t.typacl::text[] AS acl, \
               pg_catalog.acldefault('T', t.typowner)::text[] AS acldefault, \
               ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e \
                     WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels \
               FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
               WHERE t.typtype = 'e' ORDER BY t.oid";
    for row in query(client, "enum types", sql, &[]).await? {
        catalog.kinds.types.enums.push(EnumType {
            oid: oid(&row, "oid"),
            nsp_oid: oid(&row, "typnamespace"),
            schema: row.get("nspname"),
            name: row.get("typname"),
            owner: row.get("owner"),
            labels: text_array(&row, "labels"),
            acl: row.get("acl"),
            acl_default: text_array(&row, "acldefault"),
        });
    }
    Ok(())
}

/// One TYPE object per type.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, _sel: &Selection) {
    for (i, t) in catalog.kinds.types.enums.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::Type,
            (catalog_oid::PG_TYPE, t.oid),
            &t.name,
            Some(&t.schema),
            Payload::Kind(KindPayload::Type(Item::Enum(i))),
        ));
    }
}

/// The entries of one type.
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, item: Item) -> Result<()> {
    match item {
        Item::Enum(i) => emit_enum(e, i),
    }
}

fn emit_enum(e: &mut Emitter<'_>, i: usize) -> Result<()> {
    let t = &e.catalog.kinds.types.enums[i];
    if !selected(e.catalog, e.sel, t.nsp_oid, (catalog_oid::PG_TYPE, t.oid)) {
        return Ok(());
    }
    let qual = qualified(&t.schema, &t.name);
    let mut create = format!("CREATE TYPE {qual} AS ENUM (");
    for (k, label) in t.labels.iter().enumerate() {
        if k > 0 {
            create.push(',');
        }
        create.push_str("\n    ");
        create.push_str(&quote_literal(label));
    }
    create.push_str("\n);\n");
    let mut entry = Entry::new(t.name.clone(), "TYPE", Some(&t.schema), &t.owner);
    entry.create = create;
    entry.drop = format!("DROP TYPE {qual};\n");
    entry.owner_object = Some(format!("TYPE {qual}"));
    e.push(entry);
    let q = quote_ident(&t.name);
    if let Some(text) = e
        .comment_of(catalog_oid::PG_TYPE, t.oid, 0)
        .map(str::to_string)
    {
        e.comment("TYPE", &q, Some(&t.schema), &t.owner, &text);
    }
    if let Some(acl) = &t.acl {
        let target = AclTarget {
            kind: "TYPE",
            name: &q,
            subname: None,
            namespace: Some(&t.schema),
            owner: Some(&t.owner),
        };
        e.acl(&target, acl, &t.acl_default, format!("TYPE {q}"))?;
    }
    Ok(())
}
