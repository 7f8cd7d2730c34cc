//! Catalog reads: a fixed number of batched queries for the whole database.
//!
//! Following pg_dump's "lock first, deparse later" rule, [`read_relations`] reads only
//! plain catalog columns; the caller then locks the tables it will dump, and
//! [`read_details`] runs the queries that call server deparse functions
//! (`pg_get_expr`, `pg_get_indexdef`, `pg_get_viewdef`, `format_type`, ...), restricted
//! to the relations of interest by an OID array.

use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};
use tokio_postgres::{Client, Row};

/// A schema.
#[derive(Debug, Clone)]
pub(crate) struct Namespace {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    /// True when owned by `pg_database_owner` (the PostgreSQL 15+ default for public).
    pub owned_by_database_owner: bool,
    pub acl: Option<Vec<String>>,
    pub acl_default: Vec<String>,
}

/// A `pg_class` row of a kind pg_dump reads (tables, views, sequences, ...).
#[derive(Debug, Clone)]
pub(crate) struct Relation {
    pub oid: u32,
    pub name: String,
    pub nsp_oid: u32,
    pub schema: String,
    pub kind: u8,
    pub owner: String,
    pub acl: Option<Vec<String>>,
    pub acl_default: Vec<String>,
    pub persistence: u8,
    /// `relpages`: size estimate.
    pub pages: i32,
    pub is_populated: bool,
    pub replident: u8,
    pub force_rls: bool,
    /// `""` for the database default.
    pub tablespace: String,
    pub access_method: Option<String>,
    pub reloptions: Vec<String>,
    pub toast_reloptions: Vec<String>,
    pub check_option: Option<String>,
    /// For owned sequences: (table oid, column number, identity?).
    pub owned_by: Option<(u32, i32, bool)>,
    /// `relispartition`: a partition (created standalone, then attached).
    pub is_partition: bool,
    /// Direct inheritance parents (or the partition parent), in `inhseqno` order;
    /// filled by [`super::kinds::partitions::read`].
    pub parents: Vec<u32>,
    /// Filled by [`read_details`] for relations of interest.
    pub details: Option<RelDetails>,
}

/// What only relations of interest get (after locking).
#[derive(Debug, Clone, Default)]
pub(crate) struct RelDetails {
    pub columns: Vec<Column>,
    pub checks: Vec<Check>,
    pub indexes: Vec<Index>,
    pub fks: Vec<ForeignKey>,
    pub view_def: Option<String>,
    pub sequence: Option<Sequence>,
    /// Column-level ACLs: (quoted column name, acl items).
    pub column_acls: Vec<(String, Vec<String>)>,
    /// `pg_get_partkeydef` of a partitioned table.
    pub partkeydef: Option<String>,
    /// `pg_get_expr(relpartbound)` of a partition (`FOR VALUES ...` or `DEFAULT`).
    pub partbound: Option<String>,
}

/// A column (dropped ones included, so numbering matches `attnum`).
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub num: i32,
    pub name: String,
    pub type_name: String,
    pub stat_target: Option<i32>,
    pub storage: u8,
    pub type_storage: u8,
    pub not_null: bool,
    pub dropped: bool,
    pub is_local: bool,
    pub options: String,
    /// Qualified, quoted collation name when it differs from the type's default.
    pub collation: Option<String>,
    pub identity: u8,
    pub generated: u8,
    pub compression: u8,
    /// The default or generation expression, with the `pg_attrdef` oid (0 for the
    /// `DEFAULT NULL` pg_dump makes up for an inheritance child, see
    /// [`super::kinds::partitions::flag_inherited`]).
    pub default: Option<(u32, String)>,
    /// NOT NULL inherited from a parent (so not repeated for inheritance children).
    pub inh_not_null: bool,
}

/// A CHECK constraint.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub oid: u32,
    pub name: String,
    pub def: String,
    pub is_local: bool,
    pub validated: bool,
}

/// An index, possibly backing a PRIMARY KEY / UNIQUE / EXCLUDE constraint.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    pub oid: u32,
    pub name: String,
    pub def: String,
    pub key_atts: usize,
    pub keys: Vec<i32>,
    pub clustered: bool,
    pub replident: bool,
    pub nulls_not_distinct: bool,
    pub tablespace: String,
    pub reloptions: Vec<String>,
    /// (column number, statistics target) of index columns with a set target.
    pub stat_targets: Vec<(i32, i32)>,
    pub constraint: Option<IndexConstraint>,
    /// The partitioned index this partition's index is attached to (0: none).
    pub parent_idx: u32,
}

/// The constraint an index implements.
#[derive(Debug, Clone)]
pub(crate) struct IndexConstraint {
    pub oid: u32,
    pub kind: u8,
    pub name: String,
    pub deferrable: bool,
    pub deferred: bool,
    pub def: String,
}

/// A FOREIGN KEY constraint.
#[derive(Debug, Clone)]
pub(crate) struct ForeignKey {
    pub oid: u32,
    pub name: String,
    pub def: String,
    pub ref_table: u32,
    /// `conindid`: the referenced table's unique index the key relies on.
    pub ref_index: u32,
}

/// A sequence's parameters and state.
#[derive(Debug, Clone)]
pub(crate) struct Sequence {
    pub type_name: String,
    pub start: i64,
    pub increment: i64,
    pub max: i64,
    pub min: i64,
    pub cache: i64,
    pub cycle: bool,
    pub last_value: i64,
    pub is_called: bool,
}

/// A rewrite rule: a view's ON SELECT rule or a rule of its own (see
/// [`super::kinds::rules`]).
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub oid: u32,
    pub table: u32,
    pub name: String,
    pub ev_type: u8,
    pub is_instead: bool,
    /// `O` (origin, the default), `A` (always), `R` (replica) or `D` (disabled).
    pub ev_enabled: u8,
}

/// A table row type or array type (ordering only).
#[derive(Debug, Clone)]
pub(crate) struct DummyType {
    pub oid: u32,
    pub name: String,
    pub schema: String,
}

/// One `pg_depend` edge.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Depend {
    pub classid: u32,
    pub objid: u32,
    pub refclassid: u32,
    pub refobjid: u32,
    pub deptype: u8,
}

/// The database itself, for `--create`.
#[derive(Debug, Clone)]
pub(crate) struct Database {
    pub name: String,
    pub owner: String,
    pub encoding: String,
    pub collate: String,
    pub ctype: String,
    pub locale_provider: u8,
    pub icu_locale: Option<String>,
    pub tablespace: String,
    pub conn_limit: i32,
    pub is_template: bool,
    pub acl: Option<Vec<String>>,
    pub acl_default: Vec<String>,
    pub comment: Option<String>,
    /// `ALTER DATABASE ... SET` items (`name=value`).
    pub settings: Vec<String>,
    /// `ALTER ROLE ... IN DATABASE ... SET` items: (role, `name=value`).
    pub role_settings: Vec<(String, String)>,
}

/// Everything read from the catalogs.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub namespaces: Vec<Namespace>,
    pub relations: Vec<Relation>,
    pub rules: Vec<Rule>,
    pub dummy_types: Vec<DummyType>,
    pub depends: Vec<Depend>,
    /// (classoid, objoid) -> [(objsubid, description)], sorted by objsubid.
    pub comments: HashMap<(u32, u32), Vec<(i32, String)>>,
    /// Matview refresh ordering: (matview, matview it reads).
    pub matview_deps: Vec<(u32, u32)>,
    /// (classid, objid) of extension members (`pg_depend` deptype 'e'): never dumped.
    pub ext_members: HashSet<(u32, u32)>,
    /// Object kinds read by the modules of [`super::kinds`].
    pub kinds: super::kinds::KindCatalog,
}

impl Catalog {
    /// The index in [`Catalog::relations`] of the relation with OID `oid`
    /// (relations are read in OID order).
    pub(crate) fn relation_index(&self, oid: u32) -> Option<usize> {
        self.relations.binary_search_by_key(&oid, |r| r.oid).ok()
    }
}

pub(crate) fn oid(row: &Row, col: &str) -> u32 {
    row.get::<_, u32>(col)
}

pub(crate) fn byte(row: &Row, col: &str) -> u8 {
    row.get::<_, i8>(col) as u8
}

pub(crate) fn text_array(row: &Row, col: &str) -> Vec<String> {
    row.get::<_, Option<Vec<String>>>(col).unwrap_or_default()
}

pub(crate) async fn query(
    client: &Client,
    what: &str,
    sql: &str,
    oids: &[u32],
) -> Result<Vec<Row>> {
    let res = if sql.contains("$1") {
        client.query(sql, &[&oids]).await
    } else {
        client.query(sql, &[]).await
    };
    res.map_err(|e| Error::postgres(format!("reading {what}"), e))
}

/// Reads namespaces, relations (plain columns only), rules, dummy types,
/// dependencies and comments.
pub(crate) async fn read_relations(client: &Client, catalog: &mut Catalog) -> Result<()> {
    read_namespaces(client, catalog).await?;
    read_relation_rows(client, catalog).await?;
    read_rules(client, catalog).await?;
    read_dummy_types(client, catalog).await?;
    read_depends(client, catalog).await?;
    read_comments(client, catalog).await?;
    Ok(())
}

async fn read_namespaces(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let sql = "SELECT n.oid, n.nspname, pg_catalog.pg_get_userbyid(n.nspowner) AS owner, \
               n.nspowner = 6171 AS dbowner, n.nspacl::text[] AS acl, \
               pg_catalog.acldefault('n', n.nspowner)::text[] AS acldefault \
               FROM pg_catalog.pg_namespace n ORDER BY n.oid";
    for row in query(client, "schemas", sql, &[]).await? {
        catalog.namespaces.push(Namespace {
            oid: oid(&row, "oid"),
            name: row.get("nspname"),
            owner: row.get("owner"),
            owned_by_database_owner: row.get("dbowner"),
            acl: row.get("acl"),
            acl_default: text_array(&row, "acldefault"),
        });
    }
    Ok(())
}

async fn read_relation_rows(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let sql = "SELECT c.oid, c.relname, c.relnamespace, n.nspname, c.relkind, \
        pg_catalog.pg_get_userbyid(c.relowner) AS owner, c.relacl::text[] AS acl, \
        pg_catalog.acldefault(CASE WHEN c.relkind = 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END, c.relowner)::text[] AS acldefault, \
        c.relpersistence, c.relpages, c.relispopulated, c.relreplident, c.relforcerowsecurity, \
        COALESCE((SELECT spcname FROM pg_catalog.pg_tablespace t WHERE t.oid = c.reltablespace), '') AS tablespace, \
        (SELECT amname FROM pg_catalog.pg_am am WHERE am.oid = c.relam) AS amname, \
        pg_catalog.array_remove(pg_catalog.array_remove(c.reloptions, 'check_option=local'), 'check_option=cascaded')::text[] AS reloptions, \
        CASE WHEN 'check_option=local' = ANY (c.reloptions) THEN 'LOCAL'::text \
             WHEN 'check_option=cascaded' = ANY (c.reloptions) THEN 'CASCADED'::text END AS checkoption, \
        tc.reloptions::text[] AS toast_reloptions, \
        d.refobjid AS owning_tab, d.refobjsubid AS owning_col, d.deptype = 'i' AS is_identity, \
        c.relispartition \
        FROM pg_catalog.pg_class c \
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
        LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid \
        LEFT JOIN pg_catalog.pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
             AND d.objid = c.oid AND d.objsubid = 0 AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
             AND d.deptype IN ('a', 'i') \
        WHERE c.relkind IN ('r', 'S', 'v', 'c', 'm', 'f', 'p') \
        ORDER BY c.oid";
    for row in query(client, "tables", sql, &[]).await? {
        let owning_tab: Option<u32> = row.get("owning_tab");
        let owned_by = owning_tab.map(|t| {
            (
                t,
                row.get::<_, i32>("owning_col"),
                row.get::<_, bool>("is_identity"),
            )
        });
        catalog.relations.push(Relation {
            oid: oid(&row, "oid"),
            name: row.get("relname"),
            nsp_oid: oid(&row, "relnamespace"),
            schema: row.get("nspname"),
            kind: byte(&row, "relkind"),
            owner: row.get("owner"),
            acl: row.get("acl"),
            acl_default: text_array(&row, "acldefault"),
            persistence: byte(&row, "relpersistence"),
            pages: row.get("relpages"),
            is_populated: row.get("relispopulated"),
            replident: byte(&row, "relreplident"),
            force_rls: row.get("relforcerowsecurity"),
            tablespace: row.get("tablespace"),
            access_method: row.get("amname"),
            reloptions: text_array(&row, "reloptions"),
            toast_reloptions: text_array(&row, "toast_reloptions"),
            check_option: row.get("checkoption"),
            owned_by,
            is_partition: row.get("relispartition"),
            parents: Vec::new(),
            details: None,
        });
    }
    Ok(())
}

async fn read_rules(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let sql = "SELECT oid, rulename, ev_class, ev_type, is_instead, ev_enabled \
               FROM pg_catalog.pg_rewrite ORDER BY oid";
    for row in query(client, "rules", sql, &[]).await? {
        catalog.rules.push(Rule {
            oid: oid(&row, "oid"),
            table: oid(&row, "ev_class"),
            name: row.get("rulename"),
            ev_type: byte(&row, "ev_type"),
            is_instead: row.get("is_instead"),
            ev_enabled: byte(&row, "ev_enabled"),
        });
    }
    Ok(())
}

async fn read_dummy_types(client: &Client, catalog: &mut Catalog) -> Result<()> {
    // Row types of relations, array types and (14+) multirange types, outside the
    // system schemas: never dumped, but objects may depend on them. An array type is
    // its element type's `typarray` (pg_dump's test; a base type may have an element
    // type without being an array).
    let sql = "SELECT t.oid, t.typname, n.nspname FROM pg_catalog.pg_type t \
               JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
               WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' \
               AND (t.typrelid <> 0 OR t.typtype = 'm' OR EXISTS (SELECT 1 FROM pg_catalog.pg_type e \
                    WHERE e.oid = t.typelem AND e.typarray = t.oid)) \
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c') \
               ORDER BY t.oid";
    for row in query(client, "types", sql, &[]).await? {
        catalog.dummy_types.push(DummyType {
            oid: oid(&row, "oid"),
            name: row.get("typname"),
            schema: row.get("nspname"),
        });
    }
    Ok(())
}

async fn read_depends(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let sql = "SELECT classid, objid, refclassid, refobjid, deptype FROM pg_catalog.pg_depend \
               WHERE deptype <> 'p' AND deptype <> 'e' ORDER BY 1, 2";
    for row in query(client, "dependencies", sql, &[]).await? {
        catalog.depends.push(Depend {
            classid: oid(&row, "classid"),
            objid: oid(&row, "objid"),
            refclassid: oid(&row, "refclassid"),
            refobjid: oid(&row, "refobjid"),
            deptype: byte(&row, "deptype"),
        });
    }
    let sql = "SELECT classid, objid FROM pg_catalog.pg_depend WHERE deptype = 'e'";
    for row in query(client, "extension members", sql, &[]).await? {
        catalog
            .ext_members
            .insert((oid(&row, "classid"), oid(&row, "objid")));
    }
    let sql = "WITH RECURSIVE w AS ( \
        SELECT d1.objid, d2.refobjid, c2.relkind AS refrelkind \
        FROM pg_catalog.pg_depend d1 \
        JOIN pg_catalog.pg_class c1 ON c1.oid = d1.objid AND c1.relkind = 'm' \
        JOIN pg_catalog.pg_rewrite r1 ON r1.ev_class = d1.objid \
        JOIN pg_catalog.pg_depend d2 ON d2.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
             AND d2.objid = r1.oid AND d2.refobjid <> d1.objid \
        JOIN pg_catalog.pg_class c2 ON c2.oid = d2.refobjid AND c2.relkind IN ('m', 'v') \
        WHERE d1.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
        UNION \
        SELECT w.objid, d3.refobjid, c3.relkind \
        FROM w JOIN pg_catalog.pg_rewrite r3 ON r3.ev_class = w.refobjid \
        JOIN pg_catalog.pg_depend d3 ON d3.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
             AND d3.objid = r3.oid AND d3.refobjid <> w.refobjid \
        JOIN pg_catalog.pg_class c3 ON c3.oid = d3.refobjid AND c3.relkind IN ('m', 'v')) \
        SELECT objid, refobjid FROM w WHERE refrelkind = 'm'";
    for row in query(client, "materialized view dependencies", sql, &[]).await? {
        catalog
            .matview_deps
            .push((oid(&row, "objid"), oid(&row, "refobjid")));
    }
    Ok(())
}

async fn read_comments(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let sql = "SELECT classoid, objoid, objsubid, description FROM pg_catalog.pg_description \
               ORDER BY classoid, objoid, objsubid";
    for row in query(client, "comments", sql, &[]).await? {
        catalog
            .comments
            .entry((oid(&row, "classoid"), oid(&row, "objoid")))
            .or_default()
            .push((row.get("objsubid"), row.get("description")));
    }
    Ok(())
}

/// Reads columns, defaults, constraints, indexes, view definitions and sequences of
/// the relations at `wanted` (indexes into `catalog.relations`).
pub(crate) async fn read_details(
    client: &Client,
    version: i32,
    catalog: &mut Catalog,
    wanted: &[usize],
) -> Result<()> {
    let oids: Vec<u32> = wanted.iter().map(|&i| catalog.relations[i].oid).collect();
    let mut details: HashMap<u32, RelDetails> =
        oids.iter().map(|&o| (o, RelDetails::default())).collect();
    read_columns(client, version, &oids, &mut details).await?;
    read_defaults(client, &oids, &mut details).await?;
    read_checks(client, &oids, &mut details).await?;
    read_indexes(client, version, &oids, &mut details).await?;
    read_fks(client, &oids, &mut details).await?;
    read_views(client, catalog, wanted, &mut details).await?;
    read_sequences(client, catalog, wanted, &mut details).await?;
    read_column_acls(client, &oids, &mut details).await?;
    read_partitioning(client, &oids, &mut details).await?;
    for &i in wanted {
        let rel = &mut catalog.relations[i];
        rel.details = details.remove(&rel.oid);
    }
    Ok(())
}

async fn read_columns(
    client: &Client,
    version: i32,
    oids: &[u32],
    details: &mut HashMap<u32, RelDetails>,
) -> Result<()> {
    let compression = if version >= 140000 {
        "a.attcompression"
    } else {
        "''::\"char\""
    };
    let sql = format!(
        "SELECT a.attrelid, a.attnum::int4 AS attnum, a.attname, \
         pg_catalog.format_type(a.atttypid, a.atttypmod) AS typname, \
         COALESCE(a.attstattarget::int4, -1) AS attstattarget, a.attstorage, t.typstorage, a.attnotnull, \
         a.attisdropped, a.attislocal, \
         pg_catalog.array_to_string(a.attoptions, ', ') AS attoptions, \
         CASE WHEN a.attcollation <> t.typcollation THEN \
           (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) \
            FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
            WHERE co.oid = a.attcollation) END AS collation, \
         a.attidentity, a.attgenerated, {compression} AS attcompression \
         FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(tbloid) \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = src.tbloid \
         LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         WHERE a.attnum > 0 ORDER BY a.attrelid, a.attnum"
    );
    for row in query(client, "columns", &sql, oids).await? {
        let target: i32 = row.get("attstattarget");
        let col = Column {
            num: row.get("attnum"),
            name: row.get("attname"),
            type_name: row.get::<_, Option<String>>("typname").unwrap_or_default(),
            stat_target: (target >= 0).then_some(target),
            storage: byte(&row, "attstorage"),
            type_storage: row
                .get::<_, Option<i8>>("typstorage")
                .map_or(0, |v| v as u8),
            not_null: row.get("attnotnull"),
            dropped: row.get("attisdropped"),
            is_local: row.get("attislocal"),
            options: row
                .get::<_, Option<String>>("attoptions")
                .unwrap_or_default(),
            collation: row.get("collation"),
            identity: byte(&row, "attidentity"),
            generated: byte(&row, "attgenerated"),
            compression: byte(&row, "attcompression"),
            default: None,
            inh_not_null: false,
        };
        if let Some(d) = details.get_mut(&oid(&row, "attrelid")) {
            d.columns.push(col);
        }
    }
    Ok(())
}

async fn read_defaults(
    client: &Client,
    oids: &[u32],
    details: &mut HashMap<u32, RelDetails>,
) -> Result<()> {
    let sql = "SELECT a.oid, a.adrelid, a.adnum::int4 AS adnum, \
               pg_catalog.pg_get_expr(a.adbin, a.adrelid) AS adsrc \
               FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(tbloid) \
               JOIN pg_catalog.pg_attrdef a ON a.adrelid = src.tbloid \
               ORDER BY a.adrelid, a.adnum";
    for row in query(client, "column defaults", sql, oids).await? {
        let Some(d) = details.get_mut(&oid(&row, "adrelid")) else {
            continue;
        };
        let num: i32 = row.get("adnum");
        if let Some(col) = d.columns.iter_mut().find(|c| c.num == num) {
            col.default = Some((oid(&row, "oid"), row.get("adsrc")));
        }
    }
    Ok(())
}

async fn read_checks(
    client: &Client,
    oids: &[u32],
    details: &mut HashMap<u32, RelDetails>,
) -> Result<()> {
    let sql =
        "SELECT c.oid, c.conrelid, c.conname, pg_catalog.pg_get_constraintdef(c.oid) AS consrc, \
               c.conislocal, c.convalidated \
               FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(tbloid) \
               JOIN pg_catalog.pg_constraint c ON c.conrelid = src.tbloid \
               WHERE c.contype = 'c' ORDER BY c.conrelid, c.conname";
    for row in query(client, "check constraints", sql, oids).await? {
        if let Some(d) = details.get_mut(&oid(&row, "conrelid")) {
            d.checks.push(Check {
                oid: oid(&row, "oid"),
                name: row.get("conname"),
                def: row.get("consrc"),
                is_local: row.get("conislocal"),
                validated: row.get("convalidated"),
            });
        }
    }
    Ok(())
}

async fn read_indexes(
    client: &Client,
    version: i32,
    oids: &[u32],
    details: &mut HashMap<u32, RelDetails>,
) -> Result<()> {
    let nnd = if version >= 150000 {
        "i.indnullsnotdistinct"
    } else {
        "false"
    };
    let sql = format!(
        "SELECT t.oid, i.indrelid, t.relname AS indexname, \
         pg_catalog.pg_get_indexdef(i.indexrelid) AS indexdef, \
         i.indnkeyatts::int4 AS indnkeyatts, i.indkey::int2[] AS indkey, i.indisclustered, \
         i.indisreplident, {nnd} AS indnullsnotdistinct, \
         c.oid AS conoid, c.contype, c.conname, c.condeferrable, c.condeferred, \
         pg_catalog.pg_get_constraintdef(c.oid, false) AS condef, \
         COALESCE((SELECT spcname FROM pg_catalog.pg_tablespace s WHERE s.oid = t.reltablespace), '') AS tablespace, \
         t.reloptions::text[] AS indreloptions, COALESCE(inh.inhparent, 0) AS parentidx, \
         (SELECT pg_catalog.array_agg(attnum::int4 ORDER BY attnum) FROM pg_catalog.pg_attribute \
          WHERE attrelid = i.indexrelid AND attstattarget >= 0) AS statcols, \
         (SELECT pg_catalog.array_agg(attstattarget::int4 ORDER BY attnum) FROM pg_catalog.pg_attribute \
          WHERE attrelid = i.indexrelid AND attstattarget >= 0) AS statvals \
         FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(tbloid) \
         JOIN pg_catalog.pg_index i ON src.tbloid = i.indrelid \
         JOIN pg_catalog.pg_class t ON t.oid = i.indexrelid \
         JOIN pg_catalog.pg_class t2 ON t2.oid = i.indrelid \
         LEFT JOIN pg_catalog.pg_constraint c ON i.indrelid = c.conrelid AND i.indexrelid = c.conindid \
              AND c.contype IN ('p', 'u', 'x') \
         LEFT JOIN pg_catalog.pg_inherits inh ON inh.inhrelid = i.indexrelid \
         WHERE (i.indisvalid OR t2.relkind = 'p') AND i.indisready \
         ORDER BY i.indrelid, indexname"
    );
    for row in query(client, "indexes", &sql, oids).await? {
        let Some(d) = details.get_mut(&oid(&row, "indrelid")) else {
            continue;
        };
        let conoid: Option<u32> = row.get("conoid");
        let constraint = conoid.map(|o| IndexConstraint {
            oid: o,
            kind: byte(&row, "contype"),
            name: row.get("conname"),
            deferrable: row.get("condeferrable"),
            deferred: row.get("condeferred"),
            def: row.get("condef"),
        });
        let cols: Vec<i32> = row
            .get::<_, Option<Vec<i32>>>("statcols")
            .unwrap_or_default();
        let vals: Vec<i32> = row
            .get::<_, Option<Vec<i32>>>("statvals")
            .unwrap_or_default();
        d.indexes.push(Index {
            oid: oid(&row, "oid"),
            name: row.get("indexname"),
            def: row.get("indexdef"),
            key_atts: row.get::<_, i32>("indnkeyatts") as usize,
            keys: row
                .get::<_, Vec<i16>>("indkey")
                .into_iter()
                .map(i32::from)
                .collect(),
            clustered: row.get("indisclustered"),
            replident: row.get("indisreplident"),
            nulls_not_distinct: row.get("indnullsnotdistinct"),
            tablespace: row.get("tablespace"),
            reloptions: text_array(&row, "indreloptions"),
            stat_targets: cols.into_iter().zip(vals).collect(),
            constraint,
            parent_idx: oid(&row, "parentidx"),
        });
    }
    Ok(())
}

async fn read_fks(
    client: &Client,
    oids: &[u32],
    details: &mut HashMap<u32, RelDetails>,
) -> Result<()> {
    let sql = "SELECT c.oid, c.conrelid, c.confrelid, c.conname, c.conindid, \
               pg_catalog.pg_get_constraintdef(c.oid) AS condef \
               FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(tbloid) \
               JOIN pg_catalog.pg_constraint c ON c.conrelid = src.tbloid \
               WHERE c.contype = 'f' AND c.conparentid = 0 ORDER BY c.conrelid, c.conname";
    for row in query(client, "foreign keys", sql, oids).await? {
        if let Some(d) = details.get_mut(&oid(&row, "conrelid")) {
            d.fks.push(ForeignKey {
                oid: oid(&row, "oid"),
                name: row.get("conname"),
                def: row.get("condef"),
                ref_table: oid(&row, "confrelid"),
                ref_index: oid(&row, "conindid"),
            });
        }
    }
    Ok(())
}

async fn read_views(
    client: &Client,
    catalog: &Catalog,
    wanted: &[usize],
    details: &mut HashMap<u32, RelDetails>,
) -> Result<()> {
    let views: Vec<u32> = wanted
        .iter()
        .map(|&i| &catalog.relations[i])
        .filter(|r| r.kind == b'v' || r.kind == b'm')
        .map(|r| r.oid)
        .collect();
    if views.is_empty() {
        return Ok(());
    }
    let sql = "SELECT src.oid, pg_catalog.pg_get_viewdef(src.oid) AS viewdef \
               FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(oid)";
    for row in query(client, "view definitions", sql, &views).await? {
        if let Some(d) = details.get_mut(&oid(&row, "oid")) {
            d.view_def = row.get("viewdef");
        }
    }
    Ok(())
}

/// Sequence parameters in one query; their current values in batched `UNION ALL`
/// queries (sequence state is read from each sequence relation, there is no catalog).
async fn read_sequences(
    client: &Client,
    catalog: &Catalog,
    wanted: &[usize],
    details: &mut HashMap<u32, RelDetails>,
) -> Result<()> {
    let seqs: Vec<&Relation> = wanted
        .iter()
        .map(|&i| &catalog.relations[i])
        .filter(|r| r.kind == b'S')
        .collect();
    if seqs.is_empty() {
        return Ok(());
    }
    let oids: Vec<u32> = seqs.iter().map(|r| r.oid).collect();
    let sql = "SELECT s.seqrelid, pg_catalog.format_type(s.seqtypid, NULL) AS seqtype, \
               s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle \
               FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(oid) \
               JOIN pg_catalog.pg_sequence s ON s.seqrelid = src.oid";
    let mut params: HashMap<u32, Sequence> = HashMap::new();
    for row in query(client, "sequences", sql, &oids).await? {
        params.insert(
            oid(&row, "seqrelid"),
            Sequence {
                type_name: row.get("seqtype"),
                start: row.get("seqstart"),
                increment: row.get("seqincrement"),
                max: row.get("seqmax"),
                min: row.get("seqmin"),
                cache: row.get("seqcache"),
                cycle: row.get("seqcycle"),
                last_value: 0,
                is_called: false,
            },
        );
    }
    for chunk in seqs.chunks(500) {
        let parts: Vec<String> = chunk
            .iter()
            .map(|r| {
                format!(
                    "SELECT {}::pg_catalog.oid AS oid, last_value, is_called FROM {}",
                    r.oid,
                    crate::sql::qualified(&r.schema, &r.name)
                )
            })
            .collect();
        let sql = parts.join(" UNION ALL ");
        for row in query(client, "sequence values", &sql, &[]).await? {
            if let Some(p) = params.get_mut(&oid(&row, "oid")) {
                p.last_value = row.get("last_value");
                p.is_called = row.get("is_called");
            }
        }
    }
    for (o, p) in params {
        if let Some(d) = details.get_mut(&o) {
            d.sequence = Some(p);
        }
    }
    Ok(())
}

/// Partition keys of partitioned tables and bounds of partitions.
async fn read_partitioning(
    client: &Client,
    oids: &[u32],
    details: &mut HashMap<u32, RelDetails>,
) -> Result<()> {
    let sql = "SELECT c.oid, \
               CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partkeydef, \
               CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS partbound \
               FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(tbloid) \
               JOIN pg_catalog.pg_class c ON c.oid = src.tbloid \
               WHERE c.relkind = 'p' OR c.relispartition";
    for row in query(client, "partitioning", sql, oids).await? {
        if let Some(d) = details.get_mut(&oid(&row, "oid")) {
            d.partkeydef = row.get("partkeydef");
            d.partbound = row.get("partbound");
        }
    }
    Ok(())
}

async fn read_column_acls(
    client: &Client,
    oids: &[u32],
    details: &mut HashMap<u32, RelDetails>,
) -> Result<()> {
    let sql = "SELECT a.attrelid, a.attname, a.attacl::text[] AS attacl \
               FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(tbloid) \
               JOIN pg_catalog.pg_attribute a ON a.attrelid = src.tbloid \
               WHERE NOT a.attisdropped AND a.attacl IS NOT NULL ORDER BY a.attrelid, a.attnum";
    for row in query(client, "column privileges", sql, oids).await? {
        if let Some(d) = details.get_mut(&oid(&row, "attrelid")) {
            let name: String = row.get("attname");
            d.column_acls
                .push((crate::sql::quote_ident(&name), text_array(&row, "attacl")));
        }
    }
    Ok(())
}

/// Reads the current database's properties (for `--create`).
pub(crate) async fn read_database(client: &Client, version: i32) -> Result<Database> {
    let (provider, icu) = if version >= 170000 {
        (
            "d.datlocprovider",
            "CASE WHEN d.datlocprovider = 'i' THEN d.datlocale END",
        )
    } else if version >= 150000 {
        ("d.datlocprovider", "d.daticulocale")
    } else {
        ("'c'::\"char\"", "NULL::text")
    };
    let sql = format!(
        "SELECT d.oid, d.datname, pg_catalog.pg_get_userbyid(d.datdba) AS owner, \
         pg_catalog.pg_encoding_to_char(d.encoding) AS encoding, \
         d.datcollate::text AS datcollate, d.datctype::text AS datctype, {provider} AS provider, \
         {icu} AS iculocale, \
         (SELECT spcname FROM pg_catalog.pg_tablespace t WHERE t.oid = d.dattablespace) AS tablespace, \
         d.datconnlimit, d.datistemplate, d.datacl::text[] AS acl, \
         pg_catalog.acldefault('d', d.datdba)::text[] AS acldefault, \
         pg_catalog.shobj_description(d.oid, 'pg_database') AS description, \
         (SELECT pg_catalog.array_agg(x) FROM pg_catalog.pg_db_role_setting s, \
            pg_catalog.unnest(s.setconfig) x WHERE s.setrole = 0 AND s.setdatabase = d.oid) AS settings \
         FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()"
    );
    let row = client
        .query_one(&sql, &[])
        .await
        .map_err(|e| Error::postgres("reading the database", e))?;
    let db_oid = oid(&row, "oid");
    let role_rows = client
        .query(
            "SELECT r.rolname, x FROM pg_catalog.pg_db_role_setting s \
             JOIN pg_catalog.pg_roles r ON r.oid = s.setrole, pg_catalog.unnest(s.setconfig) x \
             WHERE s.setdatabase = $1",
            &[&db_oid],
        )
        .await
        .map_err(|e| Error::postgres("reading role settings", e))?;
    Ok(Database {
        name: row.get("datname"),
        owner: row.get("owner"),
        encoding: row.get("encoding"),
        collate: row.get("datcollate"),
        ctype: row.get("datctype"),
        locale_provider: byte(&row, "provider"),
        icu_locale: row.get("iculocale"),
        tablespace: row
            .get::<_, Option<String>>("tablespace")
            .unwrap_or_default(),
        conn_limit: row.get("datconnlimit"),
        is_template: row.get("datistemplate"),
        acl: row.get("acl"),
        acl_default: text_array(&row, "acldefault"),
        comment: row.get("description"),
        settings: text_array(&row, "settings"),
        role_settings: role_rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
    })
}
