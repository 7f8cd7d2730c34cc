//! Logical replication: publications, their tables and schemas, and subscriptions.
//!
//! All of it is post-data and belongs to no schema, so pg_dump writes it only in a
//! whole-database dump. A publication is `CREATE PUBLICATION p [FOR ALL TABLES] WITH
//! (publish = '...')`; its tables follow one by one as `ALTER PUBLICATION p ADD TABLE
//! ONLY t [(columns)] [WHERE (...)]` and its schemas (15+) as `ALTER PUBLICATION p ADD
//! TABLES IN SCHEMA s`. Subscriptions (readable by superusers only; others get a
//! warning and none) are written with `connect = false`, so restoring one neither
//! contacts the publisher nor creates a replication slot.

use super::KindPayload;
use crate::dump::catalog::{byte, oid, query, text_array, Catalog};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{Graph, Obj, ObjKind, Payload, Tiebreak};
use crate::dump::select::Selection;
use crate::error::Result;
use crate::sql::{qualified, quote_ident, quote_literal};
use std::collections::HashMap;
use tokio_postgres::Client;

/// `pg_publication`'s OID.
const PG_PUBLICATION: u32 = 6104;
/// `pg_publication_rel`'s OID.
const PG_PUBLICATION_REL: u32 = 6106;
/// `pg_publication_namespace`'s OID.
const PG_PUBLICATION_NAMESPACE: u32 = 6237;
/// `pg_subscription`'s OID.
const PG_SUBSCRIPTION: u32 = 6100;

/// A publication.
#[derive(Debug, Clone)]
pub(crate) struct Publication {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    pub all_tables: bool,
    pub insert: bool,
    pub update: bool,
    pub delete: bool,
    pub truncate: bool,
    pub via_root: bool,
    /// `pubgencols` (18+): `s` publishes stored generated columns.
    pub gencols: u8,
}

/// A table of a publication.
#[derive(Debug, Clone)]
pub(crate) struct PublicationRel {
    pub oid: u32,
    pub publication: usize,
    pub table: u32,
    /// The row filter (15+), deparsed.
    pub qual: Option<String>,
    /// The column list (15+).
    pub columns: Option<Vec<String>>,
}

/// A schema of a publication (15+).
#[derive(Debug, Clone)]
pub(crate) struct PublicationSchema {
    pub oid: u32,
    pub publication: usize,
    pub schema: u32,
}

/// A subscription of the current database.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    pub conninfo: String,
    pub slot: Option<String>,
    pub sync_commit: String,
    pub publications: Vec<String>,
    pub binary: bool,
    /// `f`, `t` or `p` (parallel, 16+).
    pub stream: u8,
    /// `d` when two-phase commit is disabled.
    pub two_phase: u8,
    pub disable_on_error: bool,
    pub password_required: bool,
    pub run_as_owner: bool,
    pub failover: bool,
    pub origin: String,
}

/// What this module reads.
#[derive(Debug, Default)]
pub(crate) struct Publications {
    pub publications: Vec<Publication>,
    pub rels: Vec<PublicationRel>,
    pub schemas: Vec<PublicationSchema>,
    pub subscriptions: Vec<Subscription>,
    /// Subscriptions exist but the dumping role may not read them.
    pub subscriptions_hidden: bool,
}

/// Which object a graph object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Publication(usize),
    Rel(usize),
    Schema(usize),
    Subscription(usize),
}

/// Reads publications, their tables and schemas, and the subscriptions.
pub(crate) async fn read(client: &Client, version: i32, catalog: &mut Catalog) -> Result<()> {
    read_publications(client, version, catalog).await?;
    read_subscriptions(client, version, catalog).await
}

async fn read_publications(client: &Client, version: i32, catalog: &mut Catalog) -> Result<()> {
    let gencols = if version >= 180000 {
        "p.pubgencols"
    } else {
        "'n'::\"char\""
    };
    let sql = format!(
        "SELECT p.oid, p.pubname, pg_catalog.pg_get_userbyid(p.pubowner) AS owner, \
         p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot, \
         {gencols} AS pubgencols FROM pg_catalog.pg_publication p ORDER BY p.oid"
    );
    let pubs = &mut catalog.kinds.publications;
    let mut by_oid = HashMap::new();
    for row in query(client, "publications", &sql, &[]).await? {
        by_oid.insert(oid(&row, "oid"), pubs.publications.len());
        pubs.publications.push(Publication {
            oid: oid(&row, "oid"),
            name: row.get("pubname"),
            owner: row.get("owner"),
            all_tables: row.get("puballtables"),
            insert: row.get("pubinsert"),
            update: row.get("pubupdate"),
            delete: row.get("pubdelete"),
            truncate: row.get("pubtruncate"),
            via_root: row.get("pubviaroot"),
            gencols: byte(&row, "pubgencols"),
        });
    }
    let sql = if version >= 150000 {
        "SELECT pr.oid, pr.prpubid, pr.prrelid, \
         pg_catalog.pg_get_expr(pr.prqual, pr.prrelid) AS prrelqual, \
         CASE WHEN pr.prattrs IS NOT NULL THEN \
           (SELECT pg_catalog.array_agg(a.attname::text ORDER BY s) \
            FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s \
            JOIN pg_catalog.pg_attribute a ON a.attrelid = pr.prrelid AND a.attnum = pr.prattrs[s]) \
         END AS prattrs \
         FROM pg_catalog.pg_publication_rel pr ORDER BY pr.oid"
    } else {
        "SELECT pr.oid, pr.prpubid, pr.prrelid, NULL::text AS prrelqual, NULL::text[] AS prattrs \
         FROM pg_catalog.pg_publication_rel pr ORDER BY pr.oid"
    };
    for row in query(client, "publication tables", sql, &[]).await? {
        let Some(&publication) = by_oid.get(&oid(&row, "prpubid")) else {
            continue;
        };
        pubs.rels.push(PublicationRel {
            oid: oid(&row, "oid"),
            publication,
            table: oid(&row, "prrelid"),
            qual: row.get("prrelqual"),
            columns: row.get("prattrs"),
        });
    }
    if version >= 150000 {
        let sql =
            "SELECT oid, pnpubid, pnnspid FROM pg_catalog.pg_publication_namespace ORDER BY oid";
        for row in query(client, "publication schemas", sql, &[]).await? {
            let Some(&publication) = by_oid.get(&oid(&row, "pnpubid")) else {
                continue;
            };
            pubs.schemas.push(PublicationSchema {
                oid: oid(&row, "oid"),
                publication,
                schema: oid(&row, "pnnspid"),
            });
        }
    }
    Ok(())
}

async fn read_subscriptions(client: &Client, version: i32, catalog: &mut Catalog) -> Result<()> {
    let current_db = "s.subdbid = (SELECT oid FROM pg_catalog.pg_database \
                      WHERE datname = pg_catalog.current_database())";
    let superuser = query(
        client,
        "the role's superuser status",
        "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
        &[],
    )
    .await?
    .first()
    .is_some_and(|r| r.get::<_, bool>(0));
    if !superuser {
        // pg_subscription's conninfo is hidden from other roles: pg_dump skips them all.
        let sql = format!("SELECT count(*) FROM pg_catalog.pg_subscription s WHERE {current_db}");
        let rows = query(client, "subscriptions", &sql, &[]).await?;
        catalog.kinds.publications.subscriptions_hidden =
            rows.first().is_some_and(|r| r.get::<_, i64>(0) > 0);
        return Ok(());
    }
    let mut cols = String::from(
        "s.oid, s.subname, pg_catalog.pg_get_userbyid(s.subowner) AS owner, s.subconninfo, \
         s.subslotname::text AS subslotname, s.subsynccommit, s.subpublications::text[] AS pubs",
    );
    cols.push_str(if version >= 140000 {
        ", s.subbinary, s.substream::text AS substream"
    } else {
        ", false AS subbinary, 'f'::text AS substream"
    });
    cols.push_str(if version >= 150000 {
        ", s.subtwophasestate, s.subdisableonerr"
    } else {
        ", 'd'::\"char\" AS subtwophasestate, false AS subdisableonerr"
    });
    cols.push_str(if version >= 160000 {
        ", s.subpasswordrequired, s.subrunasowner, s.suborigin"
    } else {
        ", true AS subpasswordrequired, false AS subrunasowner, 'any'::text AS suborigin"
    });
    cols.push_str(if version >= 170000 {
        ", s.subfailover"
    } else {
        ", false AS subfailover"
    });
    let sql = format!(
        "SELECT {cols} FROM pg_catalog.pg_subscription s WHERE {current_db} ORDER BY s.oid"
    );
    for row in query(client, "subscriptions", &sql, &[]).await? {
        // substream is boolean before 16 ("true"/"false" as text), a char after.
        let stream: String = row.get("substream");
        catalog.kinds.publications.subscriptions.push(Subscription {
            oid: oid(&row, "oid"),
            name: row.get("subname"),
            owner: row.get("owner"),
            conninfo: row.get("subconninfo"),
            slot: row.get("subslotname"),
            sync_commit: row.get("subsynccommit"),
            publications: text_array(&row, "pubs"),
            binary: row.get("subbinary"),
            stream: stream.bytes().next().unwrap_or(b'f'),
            two_phase: byte(&row, "subtwophasestate"),
            disable_on_error: row.get("subdisableonerr"),
            password_required: row.get("subpasswordrequired"),
            run_as_owner: row.get("subrunasowner"),
            failover: row.get("subfailover"),
            origin: row.get("suborigin"),
        });
    }
    Ok(())
}

/// One object per publication, publication table, publication schema and
/// subscription. Publication tables and schemas sort by publication name after their
/// own (schema, name).
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, sel: &Selection) {
    warn_hidden_subscriptions(catalog, sel);
    let p = &catalog.kinds.publications;
    for (i, publ) in p.publications.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::Publication,
            (PG_PUBLICATION, publ.oid),
            &publ.name,
            None,
            Payload::Kind(KindPayload::Publication(Item::Publication(i))),
        ));
    }
    let rels: HashMap<u32, usize> = catalog
        .relations
        .iter()
        .enumerate()
        .map(|(i, r)| (r.oid, i))
        .collect();
    for (i, r) in p.rels.iter().enumerate() {
        let Some(&t) = rels.get(&r.table) else {
            continue;
        };
        let table = &catalog.relations[t];
        let mut obj = Graph::new_obj(
            ObjKind::PublicationRel,
            (PG_PUBLICATION_REL, r.oid),
            &table.name,
            Some(&table.schema),
            Payload::Kind(KindPayload::Publication(Item::Rel(i))),
        );
        obj.tiebreak = Tiebreak::Table(p.publications[r.publication].name.clone());
        g.add(obj);
    }
    for (i, s) in p.schemas.iter().enumerate() {
        let Some(ns) = catalog.namespaces.iter().find(|n| n.oid == s.schema) else {
            continue;
        };
        let mut obj = Graph::new_obj(
            ObjKind::PublicationSchema,
            (PG_PUBLICATION_NAMESPACE, s.oid),
            &ns.name,
            None,
            Payload::Kind(KindPayload::Publication(Item::Schema(i))),
        );
        obj.tiebreak = Tiebreak::Table(p.publications[s.publication].name.clone());
        g.add(obj);
    }
    for (i, s) in p.subscriptions.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::Subscription,
            (PG_SUBSCRIPTION, s.oid),
            &s.name,
            None,
            Payload::Kind(KindPayload::Publication(Item::Subscription(i))),
        ));
    }
}

/// The entries of one object.
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, item: Item) -> Result<()> {
    // Schema-less objects: only in whole-database dumps, never in data-only ones.
    if !e.sel.whole_database || e.opts.data_only {
        return Ok(());
    }
    match item {
        Item::Publication(i) => emit_publication(e, i),
        Item::Rel(i) => emit_rel(e, i),
        Item::Schema(i) => emit_schema(e, i),
        Item::Subscription(i) => emit_subscription(e, i),
    }
    Ok(())
}

fn emit_publication(e: &mut Emitter<'_>, i: usize) {
    let p = &e.catalog.kinds.publications.publications[i];
    if e.catalog.ext_members.contains(&(PG_PUBLICATION, p.oid)) {
        return;
    }
    let q = quote_ident(&p.name);
    let mut create = format!("CREATE PUBLICATION {q}");
    if p.all_tables {
        create.push_str(" FOR ALL TABLES");
    }
    let actions: Vec<&str> = [
        (p.insert, "insert"),
        (p.update, "update"),
        (p.delete, "delete"),
        (p.truncate, "truncate"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| *name)
    .collect();
    create.push_str(&format!(" WITH (publish = '{}'", actions.join(", ")));
    if p.via_root {
        create.push_str(", publish_via_partition_root = true");
    }
    if p.gencols == b's' {
        create.push_str(", publish_generated_columns = stored");
    }
    create.push_str(");\n");
    let mut entry = Entry::new(p.name.clone(), "PUBLICATION", None, &p.owner);
    entry.create = create;
    entry.drop = format!("DROP PUBLICATION {q};\n");
    entry.owner_object = Some(format!("PUBLICATION {q}"));
    e.push(entry);
    if let Some(text) = e.comment_of(PG_PUBLICATION, p.oid, 0).map(str::to_string) {
        e.comment("PUBLICATION", &q, None, &p.owner, &text);
    }
    let owner = p.owner.clone();
    super::seclabels::label(e, "PUBLICATION", &q, None, &owner, PG_PUBLICATION, p.oid, 0);
}

fn emit_rel(e: &mut Emitter<'_>, i: usize) {
    let pubs = &e.catalog.kinds.publications;
    let r = &pubs.rels[i];
    let p = &pubs.publications[r.publication];
    // Up to 17, only for tables whose definition is dumped; 18 dumps them all.
    let table_dumped = e.version >= 180000 || e.sel.tables.contains(&r.table);
    if !table_dumped || e.catalog.ext_members.contains(&(PG_PUBLICATION, p.oid)) {
        return;
    }
    let Some(table) = e.catalog.relations.iter().find(|t| t.oid == r.table) else {
        return;
    };
    let mut create = format!(
        "ALTER PUBLICATION {} ADD TABLE ONLY {}",
        quote_ident(&p.name),
        qualified(&table.schema, &table.name)
    );
    if let Some(cols) = &r.columns {
        let cols: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
        create.push_str(&format!(" ({})", cols.join(", ")));
    }
    if let Some(qual) = &r.qual {
        // pg_get_expr leaves out the parentheses of, e.g., WHERE true.
        create.push_str(&format!(" WHERE ({qual})"));
    }
    create.push_str(";\n");
    let mut entry = Entry::new(
        format!("{} {}", p.name, table.name),
        "PUBLICATION TABLE",
        Some(&table.schema),
        &p.owner,
    );
    entry.create = create;
    e.push(entry);
}

fn emit_schema(e: &mut Emitter<'_>, i: usize) {
    let pubs = &e.catalog.kinds.publications;
    let s = &pubs.schemas[i];
    let p = &pubs.publications[s.publication];
    // Up to 17, pg_dump leaves out schemas it does not dump at all; 18 keeps them.
    let schema_dumped = e.version >= 180000 || e.sel.schemas.contains(&s.schema);
    if !schema_dumped || e.catalog.ext_members.contains(&(PG_PUBLICATION, p.oid)) {
        return;
    }
    let Some(ns) = e.catalog.namespaces.iter().find(|n| n.oid == s.schema) else {
        return;
    };
    let mut entry = Entry::new(
        format!("{} {}", p.name, ns.name),
        "PUBLICATION TABLES IN SCHEMA",
        Some(&ns.name),
        &p.owner,
    );
    entry.create = format!(
        "ALTER PUBLICATION {} ADD TABLES IN SCHEMA {};\n",
        quote_ident(&p.name),
        quote_ident(&ns.name)
    );
    e.push(entry);
}

fn emit_subscription(e: &mut Emitter<'_>, i: usize) {
    let s = &e.catalog.kinds.publications.subscriptions[i];
    if e.catalog.ext_members.contains(&(PG_SUBSCRIPTION, s.oid)) {
        return;
    }
    let q = quote_ident(&s.name);
    let pubs: Vec<String> = s.publications.iter().map(|p| quote_ident(p)).collect();
    let mut create = format!(
        "CREATE SUBSCRIPTION {q} CONNECTION {} PUBLICATION {} WITH (connect = false, slot_name = {}",
        quote_literal(&s.conninfo),
        pubs.join(", "),
        s.slot.as_deref().map_or("NONE".to_string(), quote_literal)
    );
    create.push_str(&subscription_options(s, e.version));
    create.push_str(");\n");
    let mut entry = Entry::new(s.name.clone(), "SUBSCRIPTION", None, &s.owner);
    entry.create = create;
    entry.drop = format!("DROP SUBSCRIPTION {q};\n");
    entry.owner_object = Some(format!("SUBSCRIPTION {q}"));
    e.push(entry);
    if let Some(text) = e.comment_of(PG_SUBSCRIPTION, s.oid, 0).map(str::to_string) {
        e.comment("SUBSCRIPTION", &q, None, &s.owner, &text);
    }
    let owner = s.owner.clone();
    super::seclabels::label(
        e,
        "SUBSCRIPTION",
        &q,
        None,
        &owner,
        PG_SUBSCRIPTION,
        s.oid,
        0,
    );
}

/// The options after `slot_name`, as the server's major's pg_dump writes them.
fn subscription_options(s: &Subscription, version: i32) -> String {
    let mut o = String::new();
    if s.binary {
        o.push_str(", binary = true");
    }
    match s.stream {
        b't' => o.push_str(", streaming = on"),
        b'p' => o.push_str(", streaming = parallel"),
        // 18 made parallel streaming the default, so "off" has to be said.
        _ if version >= 180000 => o.push_str(", streaming = off"),
        _ => {}
    }
    if s.two_phase != b'd' {
        o.push_str(", two_phase = on");
    }
    if s.disable_on_error {
        o.push_str(", disable_on_error = true");
    }
    if !s.password_required {
        o.push_str(", password_required = false");
    }
    if s.run_as_owner {
        o.push_str(", run_as_owner = true");
    }
    if s.failover {
        o.push_str(", failover = true");
    }
    if s.sync_commit != "off" {
        o.push_str(&format!(
            ", synchronous_commit = {}",
            quote_ident(&s.sync_commit)
        ));
    }
    if !s.origin.eq_ignore_ascii_case("any") {
        o.push_str(&format!(", origin = {}", s.origin));
    }
    o
}

/// Logs pg_dump's warning when subscriptions exist that the role may not dump.
fn warn_hidden_subscriptions(catalog: &Catalog, sel: &Selection) {
    if catalog.kinds.publications.subscriptions_hidden && sel.whole_database {
        tracing::warn!("subscriptions not dumped because current user is not a superuser");
    }
}
