//! Which schemas and tables a dump includes: pg_dump's `-n/-N/-t/-T` patterns and
//! `--exclude-table-data`, resolved on the server as pg_dump resolves them.

use super::catalog::Catalog;
use super::DumpOptions;
use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};
use tokio_postgres::Client;

/// The outcome of selection, as sets of OIDs.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    /// Schemas dumped as a whole (CREATE SCHEMA and their contents).
    pub schemas: HashSet<u32>,
    /// Relations dumped.
    pub tables: HashSet<u32>,
    /// Relations whose data is not dumped.
    pub no_data: HashSet<u32>,
    /// True when neither `-n` nor `-t` narrowed the dump.
    pub whole_database: bool,
    /// Schemas excluded with `-N`.
    pub excluded_schemas: HashSet<u32>,
    /// Relations excluded with `-T`.
    pub excluded_tables: HashSet<u32>,
    /// Objects, as (catalog, oid), whose privileges are the only thing dumped:
    /// extension members and `pg_catalog` (see [`super::kinds::extensions`]).
    pub acl_only: HashSet<(u32, u32)>,
    /// Extension configuration tables whose data is dumped although their definition
    /// is not, with the extension's filter condition (`""` for none).
    pub config_tables: HashMap<u32, String>,
}

/// A pattern split into regular expressions for the schema and the name part, the
/// way psql and pg_dump read `schema.name` patterns with `*`, `?` and quotes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NamePattern {
    pub schema: Option<String>,
    pub name: String,
}

/// Converts a pg_dump name pattern into anchored regular expressions.
pub(crate) fn parse_pattern(pattern: &str) -> Result<NamePattern> {
    let mut parts: Vec<String> = vec![String::new()];
    let mut in_quotes = false;
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        let cur = parts.last_mut().expect("parts is never empty");
        match ch {
            '"' if in_quotes && chars.get(i + 1) == Some(&'"') => {
                cur.push('"');
                i += 1;
            }
            '"' => in_quotes = !in_quotes,
            '*' if !in_quotes => cur.push_str(".*"),
            '?' if !in_quotes => cur.push('.'),
            '.' if !in_quotes => parts.push(String::new()),
            '$' => cur.push_str("\\$"),
            c if !in_quotes && c.is_ascii_uppercase() => cur.push(c.to_ascii_lowercase()),
            c => {
                // Escape regex specials inside quotes, and always "[]" (an array
                // type name is likelier than a bracket expression).
                let quoted_special = in_quotes && "|*+?()[]{}.^$\\".contains(c);
                if quoted_special || (c == '[' && chars.get(i + 1) == Some(&']')) {
                    cur.push('\\');
                }
                cur.push(c);
            }
        }
        i += 1;
    }
    let anchor = |s: &str| format!("^({s})$");
    match parts.len() {
        1 => Ok(NamePattern {
            schema: None,
            name: anchor(&parts[0]),
        }),
        2 => Ok(NamePattern {
            schema: Some(anchor(&parts[0])),
            name: anchor(&parts[1]),
        }),
        _ => Err(Error::usage(format!(
            "improper qualified name (too many dotted names): {pattern}"
        ))),
    }
}

/// Schema OIDs matching any of `patterns`.
async fn match_schemas(client: &Client, patterns: &[String]) -> Result<HashSet<u32>> {
    let mut out = HashSet::new();
    for p in patterns {
        let pat = parse_pattern(p)?;
        if pat.schema.is_some() {
            return Err(Error::usage(format!(
                "improper qualified name (too many dotted names): {p}"
            )));
        }
        let rows = client
            .query(
                "SELECT n.oid FROM pg_catalog.pg_namespace n \
                 WHERE n.nspname OPERATOR(pg_catalog.~) $1 COLLATE pg_catalog.default",
                &[&pat.name],
            )
            .await
            .map_err(|e| Error::postgres(format!("matching schema pattern {p:?}"), e))?;
        out.extend(rows.iter().map(|r| r.get::<_, u32>(0)));
    }
    Ok(out)
}

/// Relation OIDs matching any of `patterns`. Unqualified patterns match relations
/// visible through the default search_path, as in pg_dump.
async fn match_tables(client: &Client, patterns: &[String]) -> Result<HashSet<u32>> {
    let mut out = HashSet::new();
    if patterns.is_empty() {
        return Ok(out);
    }
    client
        .batch_execute("RESET search_path")
        .await
        .map_err(|e| Error::postgres("resetting search_path", e))?;
    for p in patterns {
        let pat = parse_pattern(p)?;
        let rows = client
            .query(
                "SELECT c.oid FROM pg_catalog.pg_class c \
                 LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
                 WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'S', 'v', 'm', 'f', 'p']::\"char\"[]) \
                 AND c.relname OPERATOR(pg_catalog.~) $1 COLLATE pg_catalog.default \
                 AND CASE WHEN $2::text IS NULL THEN pg_catalog.pg_table_is_visible(c.oid) \
                     ELSE n.nspname OPERATOR(pg_catalog.~) $2 COLLATE pg_catalog.default END",
                &[&pat.name, &pat.schema],
            )
            .await
            .map_err(|e| Error::postgres(format!("matching table pattern {p:?}"), e))?;
        out.extend(rows.iter().map(|r| r.get::<_, u32>(0)));
    }
    client
        .batch_execute("SELECT pg_catalog.set_config('search_path', '', false)")
        .await
        .map_err(|e| Error::postgres("setting search_path", e))?;
    Ok(out)
}

/// Resolves the options' patterns against the catalog.
pub(crate) async fn select(
    client: &Client,
    opts: &DumpOptions,
    catalog: &Catalog,
) -> Result<Selection> {
    let include_schemas = match_schemas(client, &opts.schemas).await?;
    if !opts.schemas.is_empty() && include_schemas.is_empty() {
        return Err(Error::usage("no matching schemas were found"));
    }
    let exclude_schemas = match_schemas(client, &opts.exclude_schemas).await?;
    let include_tables = match_tables(client, &opts.tables).await?;
    if !opts.tables.is_empty() && include_tables.is_empty() {
        return Err(Error::usage("no matching tables were found"));
    }
    let exclude_tables = match_tables(client, &opts.exclude_tables).await?;
    let no_data = match_tables(client, &opts.exclude_table_data).await?;

    let mut sel = Selection {
        whole_database: opts.schemas.is_empty() && opts.tables.is_empty(),
        no_data,
        ..Selection::default()
    };
    for ns in &catalog.namespaces {
        let included = if !opts.tables.is_empty() {
            false
        } else if !opts.schemas.is_empty() {
            include_schemas.contains(&ns.oid)
        } else {
            !(ns.name.starts_with("pg_") || ns.name == "information_schema")
        };
        if included && !exclude_schemas.contains(&ns.oid) {
            sel.schemas.insert(ns.oid);
        }
    }
    for rel in &catalog.relations {
        let included = if include_tables.is_empty() {
            sel.schemas.contains(&rel.nsp_oid)
        } else {
            include_tables.contains(&rel.oid)
        };
        if included && !exclude_tables.contains(&rel.oid) && rel.kind != b'c' {
            sel.tables.insert(rel.oid);
        }
    }
    // An owned sequence follows its table (identity sequences only ever do).
    for rel in &catalog.relations {
        if let Some((owner, _, identity)) = rel.owned_by {
            if sel.tables.contains(&owner) {
                sel.tables.insert(rel.oid);
            } else if identity {
                sel.tables.remove(&rel.oid);
            }
        }
    }
    sel.excluded_schemas = exclude_schemas;
    sel.excluded_tables = exclude_tables;
    super::kinds::extensions::apply_selection(catalog, opts, &mut sel);
    Ok(sel)
}

/// Objects in the selection that pgbm does not dump yet. Dumping without them would
/// silently lose them, so the dump fails and names them instead.
pub(crate) async fn check_supported(client: &Client, sel: &Selection) -> Result<()> {
    let sql = "SELECT kind, name, nsp, rel FROM ( \
        SELECT 'text search configuration' AS kind, c.cfgname AS name, c.cfgnamespace AS nsp, NULL::pg_catalog.oid AS rel \
          FROM pg_catalog.pg_ts_config c WHERE c.oid >= 16384 \
        UNION ALL SELECT 'text search dictionary', d.dictname, d.dictnamespace, NULL FROM pg_catalog.pg_ts_dict d WHERE d.oid >= 16384 \
        UNION ALL SELECT 'text search parser', p.prsname, p.prsnamespace, NULL FROM pg_catalog.pg_ts_parser p WHERE p.oid >= 16384 \
        UNION ALL SELECT 'text search template', t.tmplname, t.tmplnamespace, NULL FROM pg_catalog.pg_ts_template t WHERE t.oid >= 16384 \
        UNION ALL SELECT 'security label', l.provider || ' on ' || pg_catalog.pg_describe_object(l.classoid, l.objoid, l.objsubid), NULL, NULL \
          FROM pg_catalog.pg_seclabel l WHERE {unsupported_labels} \
        ) x ORDER BY 1, 2";
    // Labels of the kinds that write them are supported; composite types' columns
    // (pg_class rows of relkind c) are not yet.
    let unsupported_labels = format!(
        "({} OR l.objoid IN (SELECT oid FROM pg_catalog.pg_class WHERE relkind = 'c'))",
        super::kinds::seclabels::unsupported_classes()
    );
    let sql = sql.replace("{unsupported_labels}", &unsupported_labels);
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| Error::postgres("checking for object kinds pgbm cannot dump", e))?;
    let members = super::kinds::extensions::member_keys(client).await?;
    let mut found = Vec::new();
    for row in rows {
        let nsp: Option<u32> = row.get("nsp");
        let rel: Option<u32> = row.get("rel");
        let key = (row.get("kind"), row.get("name"), nsp);
        if members.contains(&key) {
            continue;
        }
        let relevant = match (rel, nsp) {
            (Some(r), _) => sel.tables.contains(&r),
            (None, Some(n)) => n != 0 && sel.schemas.contains(&n) || n == 0 && sel.whole_database,
            (None, None) => sel.whole_database,
        };
        if relevant {
            let kind: String = row.get("kind");
            let name: String = row.get("name");
            found.push(format!("{kind} {name}"));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let more = found.len().saturating_sub(10);
    found.truncate(10);
    let mut msg = format!(
        "the database holds objects pgbm cannot dump yet: {}",
        found.join(", ")
    );
    if more > 0 {
        msg.push_str(&format!(" and {more} more"));
    }
    Err(Error::unsupported(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_psql_rules() {
        let p = parse_pattern("Public.T*").unwrap();
        assert_eq!(p.schema.as_deref(), Some("^(public)$"));
        assert_eq!(p.name, "^(t.*)$");
        let p = parse_pattern("\"My.Table\"").unwrap();
        assert_eq!(p.schema, None);
        assert_eq!(p.name, "^(My\\.Table)$");
        let p = parse_pattern("a?c").unwrap();
        assert_eq!(p.name, "^(a.c)$");
        assert!(parse_pattern("a.b.c").is_err());
        let p = parse_pattern("\"a\"\"b\"").unwrap();
        assert_eq!(p.name, "^(a\"b)$");
    }
}
