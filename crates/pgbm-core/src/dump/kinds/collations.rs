//! Collations and encoding conversions (pg_dump's `dumpCollation`, `dumpConversion`).
//!
//! Collations come early (priority just after schemas), so that columns, domains and
//! range types can use them; conversions come after the operator kinds. Neither has
//! privileges. A collation's version is never dumped: it is computed on restore.

use super::{selected, KindPayload};
use crate::dump::catalog::{byte, oid, query, Catalog};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{Graph, Obj, ObjKind, Payload};
use crate::dump::select::Selection;
use crate::error::{Error, Result};
use crate::sql::{qualified, quote_ident, quote_literal};
use tokio_postgres::Client;

/// `pg_collation`'s catalog OID.
const PG_COLLATION: u32 = 3456;
/// `pg_conversion`'s catalog OID.
const PG_CONVERSION: u32 = 2607;

/// A collation.
#[derive(Debug, Clone)]
pub(crate) struct Collation {
    pub oid: u32,
    pub nsp_oid: u32,
    pub schema: String,
    pub name: String,
    pub owner: String,
    /// `c` libc, `i` ICU, `b` builtin (17+), `d` default.
    pub provider: u8,
    pub deterministic: bool,
    pub collate: Option<String>,
    pub ctype: Option<String>,
    /// ICU or builtin locale (`colliculocale` on 15-16, `colllocale` on 17+).
    pub locale: Option<String>,
    /// ICU tailoring rules (16+).
    pub icu_rules: Option<String>,
}

/// An encoding conversion.
#[derive(Debug, Clone)]
pub(crate) struct Conversion {
    pub oid: u32,
    pub nsp_oid: u32,
    pub schema: String,
    pub name: String,
    pub owner: String,
    pub for_encoding: String,
    pub to_encoding: String,
    /// The conversion function as `regproc` text.
    pub proc: String,
    pub is_default: bool,
}

/// Collations and conversions read from the catalog, in OID order.
#[derive(Debug, Default)]
pub(crate) struct Collations {
    pub collations: Vec<Collation>,
    pub conversions: Vec<Conversion>,
}

/// Which collation or conversion a graph object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Collation(usize),
    Conversion(usize),
}

/// Reads user-defined collations and conversions (OID at least 16384).
pub(crate) async fn read(client: &Client, version: i32, catalog: &mut Catalog) -> Result<()> {
    read_collations(client, version, catalog).await?;
    read_conversions(client, catalog).await
}

async fn read_collations(client: &Client, version: i32, catalog: &mut Catalog) -> Result<()> {
    // Before 15 collcollate/collctype are non-null names; empty means unset.
    let (collate, ctype) = if version >= 150000 {
        ("c.collcollate", "c.collctype")
    } else {
        (
            "NULLIF(c.collcollate::text, '')",
            "NULLIF(c.collctype::text, '')",
        )
    };
    let locale = if version >= 170000 {
        "c.colllocale"
    } else if version >= 150000 {
        "c.colliculocale"
    } else {
        "NULL::text"
    };
    let rules = if version >= 160000 {
        "c.collicurules"
    } else {
        "NULL::text"
    };
    let sql = format!(
        "SELECT c.oid, c.collnamespace, n.nspname, c.collname, \
         pg_catalog.pg_get_userbyid(c.collowner) AS owner, c.collprovider, \
         c.collisdeterministic, {collate} AS collcollate, {ctype} AS collctype, \
         {locale} AS colllocale, {rules} AS collicurules \
         FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace \
         WHERE c.oid >= 16384 ORDER BY c.oid"
    );
    for row in query(client, "collations", &sql, &[]).await? {
        catalog.kinds.collations.collations.push(Collation {
            oid: oid(&row, "oid"),
            nsp_oid: oid(&row, "collnamespace"),
            schema: row.get("nspname"),
            name: row.get("collname"),
            owner: row.get("owner"),
            provider: byte(&row, "collprovider"),
            deterministic: row.get("collisdeterministic"),
            collate: row.get("collcollate"),
            ctype: row.get("collctype"),
            locale: row.get("colllocale"),
            icu_rules: row.get("collicurules"),
        });
    }
    Ok(())
}

async fn read_conversions(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let sql = "SELECT c.oid, c.connamespace, n.nspname, c.conname, \
               pg_catalog.pg_get_userbyid(c.conowner) AS owner, \
               pg_catalog.pg_encoding_to_char(c.conforencoding) AS conforencoding, \
               pg_catalog.pg_encoding_to_char(c.contoencoding) AS contoencoding, \
               c.conproc::pg_catalog.text AS conproc, c.condefault \
               FROM pg_catalog.pg_conversion c JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace \
               WHERE c.oid >= 16384 ORDER BY c.oid";
    for row in query(client, "conversions", sql, &[]).await? {
        catalog.kinds.collations.conversions.push(Conversion {
            oid: oid(&row, "oid"),
            nsp_oid: oid(&row, "connamespace"),
            schema: row.get("nspname"),
            name: row.get("conname"),
            owner: row.get("owner"),
            for_encoding: row.get("conforencoding"),
            to_encoding: row.get("contoencoding"),
            proc: row.get("conproc"),
            is_default: row.get("condefault"),
        });
    }
    Ok(())
}

/// One object per collation, then one per conversion.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, _sel: &Selection) {
    let kinds = &catalog.kinds.collations;
    for (i, c) in kinds.collations.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::Collation,
            (PG_COLLATION, c.oid),
            &c.name,
            Some(&c.schema),
            Payload::Kind(KindPayload::Collation(Item::Collation(i))),
        ));
    }
    for (i, c) in kinds.conversions.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::Conversion,
            (PG_CONVERSION, c.oid),
            &c.name,
            Some(&c.schema),
            Payload::Kind(KindPayload::Collation(Item::Conversion(i))),
        ));
    }
}

/// The entries of one collation or conversion.
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, item: Item) -> Result<()> {
    match item {
        Item::Collation(i) => emit_collation(e, i),
        Item::Conversion(i) => {
            emit_conversion(e, i);
            Ok(())
        }
    }
}

fn emit_collation(e: &mut Emitter<'_>, i: usize) -> Result<()> {
    let c = &e.catalog.kinds.collations.collations[i];
    if !selected(e.catalog, e.sel, c.nsp_oid, (PG_COLLATION, c.oid)) {
        return Ok(());
    }
    let create = collation_sql(c, e.version)?;
    let comment = e.comment_of(PG_COLLATION, c.oid, 0).map(str::to_string);
    push_entry(e, &c.name, &c.schema, &c.owner, "COLLATION", create);
    if let Some(text) = comment {
        e.comment(
            "COLLATION",
            &quote_ident(&c.name),
            Some(&c.schema),
            &c.owner,
            &text,
        );
    }
    Ok(())
}

/// `CREATE COLLATION q (provider = ..., [deterministic = false, ]locale ...);`
fn collation_sql(c: &Collation, version: i32) -> Result<String> {
    let provider = match c.provider {
        b'b' => "builtin",
        b'c' => "libc",
        b'i' => "icu",
        b'd' => "default",
        other => {
            return Err(Error::unsupported(format!(
                "collation {} has unrecognized provider {:?}",
                qualified(&c.schema, &c.name),
                other as char
            )))
        }
    };
    let mut s = format!(
        "CREATE COLLATION {} (provider = {provider}",
        qualified(&c.schema, &c.name)
    );
    if !c.deterministic {
        s.push_str(", deterministic = false");
    }
    let text = |v: &Option<String>| quote_literal(v.as_deref().unwrap_or(""));
    match c.provider {
        b'b' => s.push_str(&format!(", locale = {}", text(&c.locale))),
        b'i' => {
            // Before 15 an ICU locale was stored as collcollate (= collctype).
            let locale = if version >= 150000 {
                &c.locale
            } else {
                &c.collate
            };
            s.push_str(&format!(", locale = {}", text(locale)));
            if c.icu_rules.is_some() {
                s.push_str(&format!(", rules = {}", text(&c.icu_rules)));
            }
        }
        b'c' => {
            if c.collate.is_some() && c.collate == c.ctype {
                s.push_str(&format!(", locale = {}", text(&c.collate)));
            } else {
                s.push_str(&format!(
                    ", lc_collate = {}, lc_ctype = {}",
                    text(&c.collate),
                    text(&c.ctype)
                ));
            }
        }
        // The default collation cannot be reloaded; pg_dump writes no locale.
        _ => {}
    }
    s.push_str(");\n");
    Ok(s)
}

fn emit_conversion(e: &mut Emitter<'_>, i: usize) {
    let c = &e.catalog.kinds.collations.conversions[i];
    if !selected(e.catalog, e.sel, c.nsp_oid, (PG_CONVERSION, c.oid)) {
        return;
    }
    let create = format!(
        "CREATE {}CONVERSION {} FOR {} TO {} FROM {};\n",
        if c.is_default { "DEFAULT " } else { "" },
        qualified(&c.schema, &c.name),
        quote_literal(&c.for_encoding),
        quote_literal(&c.to_encoding),
        c.proc
    );
    let comment = e.comment_of(PG_CONVERSION, c.oid, 0).map(str::to_string);
    push_entry(e, &c.name, &c.schema, &c.owner, "CONVERSION", create);
    if let Some(text) = comment {
        e.comment(
            "CONVERSION",
            &quote_ident(&c.name),
            Some(&c.schema),
            &c.owner,
            &text,
        );
    }
}

/// The definition entry of a collation or conversion, with its DROP and owner.
fn push_entry(
    e: &mut Emitter<'_>,
    name: &str,
    schema: &str,
    owner: &str,
    desc: &'static str,
    create: String,
) {
    let qual = qualified(schema, name);
    let mut entry = Entry::new(name.to_string(), desc, Some(schema), owner);
    entry.create = create;
    entry.drop = format!("DROP {desc} {qual};\n");
    entry.owner_object = Some(format!("{desc} {qual}"));
    e.push(entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coll(provider: u8) -> Collation {
        Collation {
            oid: 1,
            nsp_oid: 2,
            schema: "s".into(),
            name: "c".into(),
            owner: "o".into(),
            provider,
            deterministic: true,
            collate: None,
            ctype: None,
            locale: None,
            icu_rules: None,
        }
    }

    #[test]
    fn libc_collations_use_locale_when_both_parts_agree() {
        let mut c = coll(b'c');
        c.collate = Some("C".into());
        c.ctype = Some("C".into());
        assert_eq!(
            collation_sql(&c, 150000).unwrap(),
            "CREATE COLLATION s.c (provider = libc, locale = 'C');\n"
        );
        c.ctype = Some("C.UTF-8".into());
        assert_eq!(
            collation_sql(&c, 150000).unwrap(),
            "CREATE COLLATION s.c (provider = libc, lc_collate = 'C', lc_ctype = 'C.UTF-8');\n"
        );
    }

    #[test]
    fn icu_locale_moved_between_versions() {
        let mut c = coll(b'i');
        c.deterministic = false;
        c.locale = Some("und-u-ks-level2".into());
        c.icu_rules = Some("&a < b".into());
        assert_eq!(
            collation_sql(&c, 160000).unwrap(),
            "CREATE COLLATION s.c (provider = icu, deterministic = false, \
             locale = 'und-u-ks-level2', rules = '&a < b');\n"
        );
        let mut old = coll(b'i');
        old.collate = Some("de-DE".into());
        old.ctype = Some("de-DE".into());
        assert_eq!(
            collation_sql(&old, 140000).unwrap(),
            "CREATE COLLATION s.c (provider = icu, locale = 'de-DE');\n"
        );
    }

    #[test]
    fn builtin_and_unknown_providers() {
        let mut c = coll(b'b');
        c.locale = Some("C.UTF-8".into());
        assert_eq!(
            collation_sql(&c, 170000).unwrap(),
            "CREATE COLLATION s.c (provider = builtin, locale = 'C.UTF-8');\n"
        );
        assert!(collation_sql(&coll(b'x'), 170000).is_err());
    }
}
