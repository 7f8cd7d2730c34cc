//! Table inheritance and partitioning: parents of tables, the inherited properties of
//! child columns, `TABLE ATTACH` and `INDEX ATTACH` entries, and partitions whose data
//! must be loaded through the partition root.
//!
//! pg_dump creates every partition as a standalone table with all its columns (and
//! the CHECK constraints it inherited), then attaches it with a separate `TABLE
//! ATTACH` entry; indexes of partitions are created standalone too and attached to the
//! partitioned index in post-data `INDEX ATTACH` entries. Inheritance children (not
//! partitions) are created with `INHERITS (...)` and print only their local columns.

use super::KindPayload;
use crate::dump::catalog::{oid, query, Catalog, RelDetails, Relation};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{catalog_oid, Graph, Obj, ObjId, ObjKind, Payload};
use crate::dump::select::Selection;
use crate::error::Result;
use crate::sql::qualified;
use std::collections::{HashMap, HashSet};
use tokio_postgres::Client;

/// Partitioning facts that need no lock (read before the tables are locked).
#[derive(Debug, Default)]
pub(crate) struct Partitions {
    /// Partitioned tables whose partitions must be loaded through the partition root:
    /// hash partitioning on an enum column (hash codes depend on enum value OIDs,
    /// which a restore does not keep).
    pub unsafe_roots: HashSet<u32>,
}

/// Which attach a graph object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    /// `ALTER TABLE ONLY parent ATTACH PARTITION child ...` for relation `usize`.
    TableAttach(usize),
    /// `ALTER INDEX parent ATTACH PARTITION child` for index `index` of relation
    /// `table`; the partitioned index is index `parent_index` of `parent_table`.
    IndexAttach {
        table: usize,
        index: usize,
        parent_table: usize,
        parent_index: usize,
    },
}

/// Reads inheritance parents (into [`Relation::parents`]) and the partitioned tables
/// with an unsafe partitioning scheme.
pub(crate) async fn read(client: &Client, _version: i32, catalog: &mut Catalog) -> Result<()> {
    // pg_inherits also links partitioned indexes to their partitions' indexes; those
    // rows name no relation of ours and are skipped here (see Index::parent_idx).
    let sql = "SELECT inhrelid, inhparent FROM pg_catalog.pg_inherits \
               ORDER BY inhrelid, inhseqno";
    for row in query(client, "inheritance", sql, &[]).await? {
        let (child, parent) = (oid(&row, "inhrelid"), oid(&row, "inhparent"));
        if let (Some(c), Some(_)) = (
            catalog.relation_index(child),
            catalog.relation_index(parent),
        ) {
            catalog.relations[c].parents.push(parent);
        }
    }
    let sql = "SELECT partrelid FROM pg_catalog.pg_partitioned_table WHERE \
               (SELECT c.oid FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_am a \
                ON c.opcmethod = a.oid WHERE opcname = 'enum_ops' \
                AND opcnamespace = 'pg_catalog'::pg_catalog.regnamespace \
                AND amname = 'hash') = ANY(partclass)";
    for row in query(client, "partitioning schemes", sql, &[]).await? {
        catalog
            .kinds
            .partitions
            .unsafe_roots
            .insert(oid(&row, "partrelid"));
    }
    Ok(())
}

/// Direct parents of the relations at `wanted` that are not themselves wanted: pg_dump
/// reads their columns too ("interesting" tables), to know what children inherit.
pub(crate) fn parents_to_read(catalog: &Catalog, wanted: &[usize]) -> Vec<usize> {
    let wanted_oids: HashSet<u32> = wanted.iter().map(|&i| catalog.relations[i].oid).collect();
    let mut extra: Vec<usize> = Vec::new();
    for &i in wanted {
        for p in &catalog.relations[i].parents {
            if wanted_oids.contains(p) {
                continue;
            }
            if let Some(pi) = catalog.relation_index(*p) {
                if !extra.contains(&pi) {
                    extra.push(pi);
                }
            }
        }
    }
    extra.sort_unstable();
    extra
}

/// What a dumped child column inherits, as pg_dump's `flagInhAttrs` works it out:
/// NOT NULL inherited from a parent is not repeated; a parent's default that the
/// child lacks becomes an explicit `DEFAULT NULL`; a generation expression inherited
/// from a parent is not repeated (partitions, created standalone, keep it).
///
/// Verified against pg_dump 15. From 16 on (per pg_dump's current sources, not yet
/// checked against a 16 server) a parent's made-up `DEFAULT NULL` no longer counts,
/// and a child's generation expression is left out only when it equals the parents'.
pub(crate) fn flag_inherited(catalog: &mut Catalog, sel: &Selection, version: i32) {
    // In relation (OID) order, like pg_dump: before 16 a parent's made-up DEFAULT
    // NULL counts as a default for its own children.
    for i in 0..catalog.relations.len() {
        let rel = &catalog.relations[i];
        if rel.parents.is_empty()
            || !sel.tables.contains(&rel.oid)
            || matches!(rel.kind, b'S' | b'v' | b'm')
        {
            continue;
        }
        let Some(d) = &rel.details else { continue };
        let parents: Vec<&Relation> = rel
            .parents
            .iter()
            .filter_map(|p| catalog.relation_index(*p).map(|pi| &catalog.relations[pi]))
            .collect();
        let mut flags: Vec<(usize, bool, bool, bool)> = Vec::new();
        for (c, col) in d.columns.iter().enumerate() {
            if col.dropped {
                continue;
            }
            let (mut not_null, mut default) = (false, false);
            let (mut same_generated, mut other_generated) = (false, false);
            for parent in &parents {
                let Some(pcol) = parent.details.as_ref().and_then(|pd| {
                    pd.columns
                        .iter()
                        .find(|pc| !pc.dropped && pc.name == col.name)
                }) else {
                    continue;
                };
                not_null |= pcol.not_null;
                let made_up = matches!(&pcol.default, Some((0, _)));
                default |=
                    pcol.default.is_some() && pcol.generated == 0 && (version < 160000 || !made_up);
                if pcol.generated != 0 {
                    let same =
                        pcol.default.as_ref().map(|p| &p.1) == col.default.as_ref().map(|c| &c.1);
                    same_generated |= same;
                    other_generated |= !same;
                }
            }
            let drop_generated = if version < 160000 {
                same_generated || other_generated
            } else {
                same_generated && !other_generated
            };
            flags.push((c, not_null, default, drop_generated));
        }
        let is_partition = rel.is_partition;
        let Some(d) = catalog.relations[i].details.as_mut() else {
            continue;
        };
        for (c, not_null, default, drop_generated) in flags {
            let col = &mut d.columns[c];
            col.inh_not_null = not_null;
            if default && col.default.is_none() {
                col.default = Some((0, "NULL".to_string()));
            }
            if drop_generated && !is_partition {
                col.default = None;
            }
        }
    }
}

/// Whether pg_dump prints column `col` of `rel` inside its CREATE TABLE: locally
/// defined columns, and every column of a partition.
pub(crate) fn prints_column(rel: &Relation, col: &crate::dump::catalog::Column) -> bool {
    !col.dropped && (col.is_local || rel.is_partition)
}

/// What follows the column list of CREATE TABLE: `INHERITS (...)` for inheritance
/// children (partitions are attached instead), `PARTITION BY ...` for partitioned
/// tables.
pub(crate) fn inherits_clause(catalog: &Catalog, rel: &Relation, d: &RelDetails) -> String {
    let mut s = String::new();
    if !rel.parents.is_empty() && !rel.is_partition {
        let names: Vec<String> = rel
            .parents
            .iter()
            .filter_map(|p| catalog.relation_index(*p).map(|pi| &catalog.relations[pi]))
            .map(|r| qualified(&r.schema, &r.name))
            .collect();
        s.push_str(&format!("\nINHERITS ({})", names.join(", ")));
    }
    if let Some(key) = &d.partkeydef {
        s.push_str(&format!("\nPARTITION BY {key}"));
    }
    s
}

/// The root of the partition tree `rel` belongs to, when its data must be loaded
/// through the root (an ancestor partitions by hash on an enum column).
pub(crate) fn load_via_root<'a>(catalog: &'a Catalog, rel: &Relation) -> Option<&'a Relation> {
    if !rel.is_partition {
        return None;
    }
    let find = |o: u32| catalog.relation_index(o).map(|i| &catalog.relations[i]);
    let mut cur = find(*rel.parents.first()?)?;
    let mut is_unsafe = catalog.kinds.partitions.unsafe_roots.contains(&cur.oid);
    while cur.is_partition {
        cur = find(*cur.parents.first()?)?;
        is_unsafe |= catalog.kinds.partitions.unsafe_roots.contains(&cur.oid);
    }
    is_unsafe.then_some(cur)
}

/// TABLE ATTACH and INDEX ATTACH objects, plus the waits of foreign keys onto
/// partitioned tables for every index attach under the referenced index.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, sel: &Selection) {
    let table_obj: HashMap<u32, ObjId> = catalog
        .relations
        .iter()
        .filter_map(|r| g.find((catalog_oid::PG_CLASS, r.oid)).map(|id| (r.oid, id)))
        .collect();
    add_table_attaches(g, catalog, sel, &table_obj);
    let attaches = add_index_attaches(g, catalog, &table_obj);
    add_fk_attach_deps(g, catalog, &attaches);
}

fn add_table_attaches(
    g: &mut Graph,
    catalog: &Catalog,
    sel: &Selection,
    table_obj: &HashMap<u32, ObjId>,
) {
    for (i, rel) in catalog.relations.iter().enumerate() {
        if !rel.is_partition || !sel.tables.contains(&rel.oid) {
            continue;
        }
        let Some(parent) = rel.parents.first() else {
            continue;
        };
        let mut obj = Graph::new_obj(
            ObjKind::TableAttach,
            (0, 0),
            &rel.name,
            Some(&rel.schema),
            Payload::Kind(KindPayload::Partition(Item::TableAttach(i))),
        );
        obj.deps.push(table_obj[&rel.oid]);
        if let Some(&p) = table_obj.get(parent) {
            obj.deps.push(p);
        }
        g.add(obj);
    }
}

/// Adds the INDEX ATTACH objects; returns them by parent index OID: (attach object,
/// partition index OID).
fn add_index_attaches(
    g: &mut Graph,
    catalog: &Catalog,
    table_obj: &HashMap<u32, ObjId>,
) -> HashMap<u32, Vec<(ObjId, u32)>> {
    // Index OID -> (its table, its position), for the indexes that were read.
    let index_pos: HashMap<u32, (usize, usize)> = catalog
        .relations
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.details.as_ref().map(|d| (i, d)))
        .flat_map(|(i, d)| {
            d.indexes
                .iter()
                .enumerate()
                .map(move |(k, idx)| (idx.oid, (i, k)))
        })
        .collect();
    let mut attaches: HashMap<u32, Vec<(ObjId, u32)>> = HashMap::new();
    for (i, rel) in catalog.relations.iter().enumerate() {
        if !rel.is_partition || rel.parents.is_empty() {
            continue;
        }
        let Some(d) = &rel.details else { continue };
        for (k, idx) in d.indexes.iter().enumerate() {
            let Some(&(parent_table, parent_index)) = index_pos.get(&idx.parent_idx) else {
                continue;
            };
            let (Some(child_obj), Some(parent_obj)) = (
                g.find((catalog_oid::PG_CLASS, idx.oid)),
                g.find((catalog_oid::PG_CLASS, idx.parent_idx)),
            ) else {
                continue;
            };
            let mut obj = Graph::new_obj(
                ObjKind::IndexAttach,
                (0, 0),
                &idx.name,
                Some(&rel.schema),
                Payload::Kind(KindPayload::Partition(Item::IndexAttach {
                    table: i,
                    index: k,
                    parent_table,
                    parent_index,
                })),
            );
            // Both indexes, and (for parallel restores in pg_dump) both tables.
            let parent_oid = catalog.relations[parent_table].oid;
            obj.deps
                .extend([child_obj, parent_obj, table_obj[&rel.oid]]);
            if let Some(&t) = table_obj.get(&parent_oid) {
                obj.deps.push(t);
            }
            let id = g.add(obj);
            g.index_parents.insert(child_obj, parent_obj);
            attaches
                .entry(idx.parent_idx)
                .or_default()
                .push((id, idx.oid));
        }
    }
    attaches
}

/// Restoring a foreign key onto a partitioned table needs the referenced index valid,
/// i.e. every partition's index attached (recursively).
fn add_fk_attach_deps(
    g: &mut Graph,
    catalog: &Catalog,
    attaches: &HashMap<u32, Vec<(ObjId, u32)>>,
) {
    let partitioned: HashSet<u32> = catalog
        .relations
        .iter()
        .filter(|r| r.kind == b'p')
        .map(|r| r.oid)
        .collect();
    for rel in &catalog.relations {
        let Some(d) = &rel.details else { continue };
        for fk in &d.fks {
            if fk.ref_index == 0 || !partitioned.contains(&fk.ref_table) {
                continue;
            }
            let Some(fk_obj) = g.find((catalog_oid::PG_CONSTRAINT, fk.oid)) else {
                continue;
            };
            let mut stack = vec![fk.ref_index];
            while let Some(index) = stack.pop() {
                for &(attach, child) in attaches.get(&index).into_iter().flatten() {
                    g.add_dep(fk_obj, attach);
                    stack.push(child);
                }
            }
        }
    }
}

/// The entries of one attach object.
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, item: Item) -> Result<()> {
    match item {
        Item::TableAttach(i) => table_attach(e, i),
        Item::IndexAttach {
            table,
            index,
            parent_table,
            parent_index,
        } => index_attach(e, (table, index), (parent_table, parent_index)),
    }
    Ok(())
}

fn table_attach(e: &mut Emitter<'_>, i: usize) {
    let rel = &e.catalog.relations[i];
    let Some(bound) = rel.details.as_ref().and_then(|d| d.partbound.as_ref()) else {
        return;
    };
    let Some(parent) = rel
        .parents
        .first()
        .and_then(|p| e.catalog.relation_index(*p))
        .map(|pi| &e.catalog.relations[pi])
    else {
        return;
    };
    // No DROP: dropping the partition drops the attachment.
    let mut entry = Entry::new(
        rel.name.clone(),
        "TABLE ATTACH",
        Some(&rel.schema),
        &rel.owner,
    );
    entry.create = format!(
        "ALTER TABLE ONLY {} ATTACH PARTITION {} {bound};\n",
        qualified(&parent.schema, &parent.name),
        qualified(&rel.schema, &rel.name)
    );
    e.push(entry);
}

/// `child` and `parent`: (relation, index position) of the two indexes.
fn index_attach(e: &mut Emitter<'_>, child: (usize, usize), parent: (usize, usize)) {
    let rel = &e.catalog.relations[child.0];
    if !e.sel.tables.contains(&rel.oid) {
        return;
    }
    let parent_rel = &e.catalog.relations[parent.0];
    let (Some(idx), Some(parent_idx)) = (
        rel.details.as_ref().map(|d| &d.indexes[child.1]),
        parent_rel.details.as_ref().map(|d| &d.indexes[parent.1]),
    ) else {
        return;
    };
    let mut entry = Entry::new(
        idx.name.clone(),
        "INDEX ATTACH",
        Some(&rel.schema),
        &parent_rel.owner,
    );
    entry.create = format!(
        "ALTER INDEX {} ATTACH PARTITION {};\n",
        qualified(&parent_rel.schema, &parent_idx.name),
        qualified(&rel.schema, &idx.name)
    );
    e.push(entry);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::catalog::Column;

    fn rel(oid: u32, name: &str, kind: u8, parents: &[u32]) -> Relation {
        Relation {
            oid,
            name: name.to_string(),
            nsp_oid: 2200,
            schema: "s".to_string(),
            kind,
            owner: "o".to_string(),
            acl: None,
            acl_default: Vec::new(),
            persistence: b'p',
            is_populated: true,
            replident: b'd',
            force_rls: false,
            tablespace: String::new(),
            access_method: None,
            reloptions: Vec::new(),
            toast_reloptions: Vec::new(),
            check_option: None,
            owned_by: None,
            pages: 0,
            is_partition: false,
            parents: parents.to_vec(),
            details: Some(RelDetails::default()),
        }
    }

    fn col(num: i32, name: &str, not_null: bool, default: Option<&str>, local: bool) -> Column {
        Column {
            num,
            name: name.to_string(),
            type_name: "integer".to_string(),
            stat_target: None,
            storage: b'p',
            type_storage: b'p',
            not_null,
            dropped: false,
            is_local: local,
            options: String::new(),
            collation: None,
            identity: 0,
            generated: 0,
            compression: 0,
            default: default.map(|d| (1, d.to_string())),
            inh_not_null: false,
        }
    }

    #[test]
    fn unsafe_scheme_anywhere_above_loads_through_the_root() {
        let mut cat = Catalog::default();
        cat.relations.push(rel(1, "root", b'p', &[]));
        cat.relations.push(rel(101, "mid", b'p', &[1]));
        cat.relations.push(rel(102, "leaf", b'r', &[101]));
        cat.relations.push(rel(103, "other", b'r', &[1]));
        for r in &mut cat.relations[1..] {
            r.is_partition = true;
        }
        assert!(load_via_root(&cat, &cat.relations[2]).is_none());
        cat.kinds.partitions.unsafe_roots.insert(101);
        let root = load_via_root(&cat, &cat.relations[2]).map(|r| r.name.as_str());
        assert_eq!(root, Some("root"));
        // A sibling under the safe root only.
        assert!(load_via_root(&cat, &cat.relations[3]).is_none());
    }

    #[test]
    fn inherits_for_children_partition_by_for_partitioned() {
        let mut cat = Catalog::default();
        cat.relations.push(rel(1, "p1", b'r', &[]));
        cat.relations.push(rel(2, "P 2", b'r', &[]));
        let child = rel(3, "c", b'r', &[1, 2]);
        let d = RelDetails {
            partkeydef: Some("RANGE (a)".to_string()),
            ..RelDetails::default()
        };
        assert_eq!(
            inherits_clause(&cat, &child, &RelDetails::default()),
            "\nINHERITS (s.p1, s.\"P 2\")"
        );
        let mut part = rel(104, "part", b'p', &[1]);
        part.is_partition = true;
        assert_eq!(inherits_clause(&cat, &part, &d), "\nPARTITION BY RANGE (a)");
    }

    #[test]
    fn children_inherit_not_null_and_get_default_null() {
        let mut cat = Catalog::default();
        let mut parent = rel(1, "p", b'r', &[]);
        parent.details.as_mut().unwrap().columns = vec![
            col(1, "a", true, Some("1"), true),
            col(2, "b", false, None, true),
        ];
        let mut child = rel(2, "c", b'r', &[1]);
        child.details.as_mut().unwrap().columns = vec![
            col(1, "a", true, None, false),
            col(2, "b", true, None, false),
        ];
        cat.relations.push(parent);
        cat.relations.push(child);
        let mut sel = Selection::default();
        sel.tables.extend([1, 2]);
        flag_inherited(&mut cat, &sel, 150000);
        let cols = &cat.relations[1].details.as_ref().unwrap().columns;
        assert!(cols[0].inh_not_null);
        assert_eq!(cols[0].default, Some((0, "NULL".to_string())));
        // b's NOT NULL is the child's own: printed as SET NOT NULL.
        assert!(!cols[1].inh_not_null);
        assert_eq!(cols[1].default, None);
    }
}
