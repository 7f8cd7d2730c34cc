//! Triggers on tables (`pg_trigger`) and event triggers (`pg_event_trigger`).
//!
//! Trigger definitions come from `pg_get_triggerdef(oid, false)` (never pretty: a
//! pretty WHEN clause can be under-parenthesized), read in one query for all dumped
//! tables after they are locked. Triggers that partitions inherit from their parent
//! are created with the parent's trigger; one is dumped only when its enabled state
//! differs, and then only as `ALTER TABLE ... ENABLE|DISABLE TRIGGER`.

use super::functions::{object_mode, Mode};
use super::KindPayload;
use crate::dump::catalog::{byte, oid, query, Catalog};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{catalog_oid, Graph, Obj, ObjKind, Payload, Tiebreak};
use crate::dump::select::Selection;
use crate::error::Result;
use crate::sql::{qualified, quote_ident};
use std::collections::HashMap;
use tokio_postgres::Client;

/// A trigger on a table, view or foreign table.
#[derive(Debug, Clone)]
pub(crate) struct Trigger {
    pub oid: u32,
    pub table: u32,
    pub name: String,
    /// `pg_get_triggerdef(oid, false)`.
    pub def: String,
    /// `tgenabled`: `O` (origin, the default), `D`isabled, `R`eplica or `A`lways.
    pub enabled: u8,
    /// A partition's copy of its parent's trigger.
    pub is_partition_clone: bool,
}

/// An event trigger.
#[derive(Debug, Clone)]
pub(crate) struct EventTrigger {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    pub event: String,
    /// The WHEN TAG list, each tag already a quoted literal, joined by `, `.
    pub tags: String,
    /// `evtfoid::regproc`.
    pub function: String,
    pub enabled: u8,
    pub ext_member: bool,
}

/// The rows read from the catalog.
#[derive(Debug, Default)]
pub(crate) struct Triggers {
    pub triggers: Vec<Trigger>,
    pub event_triggers: Vec<EventTrigger>,
}

/// Which object of this module a graph object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Trigger(usize),
    EventTrigger(usize),
}

/// Reads the triggers of the dumped tables, and all event triggers.
pub(crate) async fn read(
    client: &Client,
    version: i32,
    catalog: &mut Catalog,
    sel: &Selection,
) -> Result<()> {
    let tables: Vec<u32> = catalog
        .relations
        .iter()
        .filter(|r| sel.tables.contains(&r.oid))
        .map(|r| r.oid)
        .collect();
    // Partition clones: tgparentid names the parent's trigger (13+); up to 14 clones
    // are also flagged internal.
    let (clone, filter) = if version >= 150000 {
        (
            "t.tgparentid <> 0",
            "(NOT t.tgisinternal AND t.tgparentid = 0) OR t.tgenabled <> u.tgenabled",
        )
    } else {
        (
            "t.tgisinternal",
            "NOT t.tgisinternal OR t.tgenabled <> u.tgenabled",
        )
    };
    let sql = format!(
        "SELECT t.oid, t.tgrelid, t.tgname, pg_catalog.pg_get_triggerdef(t.oid, false) AS tgdef, \
         t.tgenabled, {clone} AS isclone \
         FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS src(tbloid) \
         JOIN pg_catalog.pg_trigger t ON t.tgrelid = src.tbloid \
         LEFT JOIN pg_catalog.pg_trigger u ON u.oid = t.tgparentid \
         WHERE {filter} ORDER BY t.tgrelid, t.tgname"
    );
    for row in query(client, "triggers", &sql, &tables).await? {
        catalog.kinds.triggers.triggers.push(Trigger {
            oid: oid(&row, "oid"),
            table: oid(&row, "tgrelid"),
            name: row.get("tgname"),
            def: row.get("tgdef"),
            enabled: byte(&row, "tgenabled"),
            is_partition_clone: row.get("isclone"),
        });
    }
    let sql = format!(
        "SELECT e.oid, e.evtname, pg_catalog.pg_get_userbyid(e.evtowner) AS owner, e.evtevent, \
         pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_literal(x) \
             FROM pg_catalog.unnest(e.evttags) AS t(x)), ', ') AS evttags, \
         e.evtfoid::pg_catalog.regproc::text AS evtfname, e.evtenabled, \
         {ext} IS NOT NULL AS extmember \
         FROM pg_catalog.pg_event_trigger e ORDER BY e.oid",
        ext = super::functions::ext_of("pg_catalog.pg_event_trigger", "e.oid"),
    );
    for row in query(client, "event triggers", &sql, &[]).await? {
        catalog.kinds.triggers.event_triggers.push(EventTrigger {
            oid: oid(&row, "oid"),
            name: row.get("evtname"),
            owner: row.get("owner"),
            event: row.get("evtevent"),
            tags: row.get("evttags"),
            function: row.get("evtfname"),
            enabled: byte(&row, "evtenabled"),
            ext_member: row.get("extmember"),
        });
    }
    Ok(())
}

/// One graph object per trigger and event trigger.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, _sel: &Selection) {
    let tables: HashMap<u32, usize> = catalog
        .relations
        .iter()
        .enumerate()
        .map(|(i, r)| (r.oid, i))
        .collect();
    for (i, t) in catalog.kinds.triggers.triggers.iter().enumerate() {
        let Some(&ti) = tables.get(&t.table) else {
            continue;
        };
        let rel = &catalog.relations[ti];
        let mut obj = Graph::new_obj(
            ObjKind::Trigger,
            (catalog_oid::PG_TRIGGER, t.oid),
            &t.name,
            Some(&rel.schema),
            payload(Item::Trigger(i)),
        );
        obj.tiebreak = Tiebreak::Table(rel.name.clone());
        obj.separate = true;
        g.add(obj);
    }
    for (i, t) in catalog.kinds.triggers.event_triggers.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::EventTrigger,
            (catalog_oid::PG_EVENT_TRIGGER, t.oid),
            &t.name,
            None,
            payload(Item::EventTrigger(i)),
        ));
    }
}

fn payload(item: Item) -> Payload {
    Payload::Kind(KindPayload::Trigger(item))
}

/// The entries of one object.
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, item: Item) -> Result<()> {
    match item {
        Item::Trigger(i) => emit_trigger(e, &e.catalog.kinds.triggers.triggers[i]),
        Item::EventTrigger(i) => emit_event_trigger(e, &e.catalog.kinds.triggers.event_triggers[i]),
    }
    Ok(())
}

/// `ENABLE`/`DISABLE` wording of a trigger's enabled state.
fn enable_word(state: u8) -> &'static str {
    match state {
        b'D' | b'f' => "DISABLE",
        b'A' => "ENABLE ALWAYS",
        b'R' => "ENABLE REPLICA",
        _ => "ENABLE",
    }
}

fn emit_trigger(e: &mut Emitter<'_>, t: &Trigger) {
    let Some(rel) = e.catalog.relations.iter().find(|r| r.oid == t.table) else {
        return;
    };
    if !e.sel.tables.contains(&rel.oid) {
        return;
    }
    let qrel = qualified(&rel.schema, &rel.name);
    let qname = quote_ident(&t.name);
    let alter = format!(
        "\nALTER {}TABLE {qrel} {} TRIGGER {qname};\n",
        if rel.kind == b'f' { "FOREIGN " } else { "" },
        enable_word(t.enabled)
    );
    let mut entry = Entry::new(
        format!("{} {}", rel.name, t.name),
        "TRIGGER",
        Some(&rel.schema),
        &rel.owner,
    );
    if t.is_partition_clone {
        // Created with the parent's trigger: only its state differs. No DROP, which
        // would fail under --create (the parent's DROP removes it).
        entry.create = alter;
    } else {
        entry.create = format!("{};\n", t.def);
        if !matches!(t.enabled, b't' | b'O') {
            entry.create.push_str(&alter);
        }
        entry.drop = format!("DROP TRIGGER {qname} ON {qrel};\n");
    }
    e.push(entry);
    if let Some(text) = e
        .comment_of(catalog_oid::PG_TRIGGER, t.oid, 0)
        .map(str::to_string)
    {
        e.comment(
            &format!("TRIGGER {qname} ON"),
            &quote_ident(&rel.name),
            Some(&rel.schema),
            &rel.owner,
            &text,
        );
    }
}

fn emit_event_trigger(e: &mut Emitter<'_>, t: &EventTrigger) {
    let ext = t.ext_member.then_some(0);
    if object_mode(e.sel, None, ext) != Mode::Full {
        return;
    }
    let q = quote_ident(&t.name);
    let mut create = format!("CREATE EVENT TRIGGER {q} ON {}", quote_ident(&t.event));
    if !t.tags.is_empty() {
        create.push_str(&format!("\n         WHEN TAG IN ({})", t.tags));
    }
    create.push_str(&format!("\n   EXECUTE FUNCTION {}();\n", t.function));
    if t.enabled != b'O' {
        create.push_str(&format!(
            "\nALTER EVENT TRIGGER {q} {};\n",
            enable_word(t.enabled)
        ));
    }
    let mut entry = Entry::new(t.name.clone(), "EVENT TRIGGER", None, &t.owner);
    entry.create = create;
    entry.drop = format!("DROP EVENT TRIGGER {q};\n");
    entry.owner_object = Some(format!("EVENT TRIGGER {q}"));
    e.push(entry);
    if let Some(text) = e
        .comment_of(catalog_oid::PG_EVENT_TRIGGER, t.oid, 0)
        .map(str::to_string)
    {
        e.comment("EVENT TRIGGER", &q, None, &t.owner, &text);
    }
}
