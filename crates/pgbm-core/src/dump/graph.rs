//! Builds the object graph from the catalog, in pg_dump's creation order.

use super::catalog::Catalog;
use super::model::{catalog_oid as cat, Graph, ObjId, ObjKind, Payload, Tiebreak};
use super::select::Selection;
use super::DumpOptions;
use std::collections::HashMap;

/// Builds the graph: schemas, relations, row types, defaults, constraints, indexes,
/// view rules, data objects, then pg_depend edges and section boundaries.
pub(crate) fn build(catalog: &Catalog, sel: &Selection, opts: &DumpOptions) -> Graph {
    let mut g = Graph::default();
    let rel_by_oid: HashMap<u32, usize> = catalog
        .relations
        .iter()
        .enumerate()
        .map(|(i, r)| (r.oid, i))
        .collect();

    for (i, ns) in catalog.namespaces.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::Namespace,
            (cat::PG_NAMESPACE, ns.oid),
            &ns.name,
            None,
            Payload::Namespace(i),
        ));
    }
    let mut table_obj: HashMap<usize, ObjId> = HashMap::new();
    for (i, rel) in catalog.relations.iter().enumerate() {
        let id = g.add(Graph::new_obj(
            ObjKind::Table,
            (cat::PG_CLASS, rel.oid),
            &rel.name,
            Some(&rel.schema),
            Payload::Table(i),
        ));
        table_obj.insert(i, id);
        if rel.kind == b'v' {
            g.views.insert(id);
        }
    }
    super::kinds::add_objects(&mut g, catalog, sel);
    for t in &catalog.dummy_types {
        g.add(Graph::new_obj(
            ObjKind::DummyType,
            (cat::PG_TYPE, t.oid),
            &t.name,
            Some(&t.schema),
            Payload::None,
        ));
    }
    add_attrdefs(&mut g, catalog, &table_obj);
    add_checks(&mut g, catalog, &table_obj);
    add_indexes(&mut g, catalog, &table_obj);
    add_fks(&mut g, catalog);
    add_view_rules(&mut g, catalog, &rel_by_oid, &table_obj);
    super::kinds::add_table_objects(&mut g, catalog, sel);
    let data_obj = add_data(&mut g, catalog, sel, opts, &table_obj);
    add_matview_refresh_deps(&mut g, catalog, &rel_by_oid, &data_obj);
    if opts.data_only {
        add_data_fk_deps(&mut g, catalog, &rel_by_oid, &data_obj);
    }
    add_pg_depend(&mut g, catalog);
    add_boundaries(&mut g);
    g
}

fn add_attrdefs(g: &mut Graph, catalog: &Catalog, table_obj: &HashMap<usize, ObjId>) {
    for (i, rel) in catalog.relations.iter().enumerate() {
        let Some(d) = &rel.details else { continue };
        for (c, col) in d.columns.iter().enumerate() {
            let Some((adoid, _)) = &col.default else {
                continue;
            };
            // A made-up `DEFAULT NULL` (oid 0) has no pg_depend identity.
            let catid = if *adoid == 0 {
                (0, 0)
            } else {
                (cat::PG_ATTRDEF, *adoid)
            };
            let mut obj = Graph::new_obj(
                ObjKind::AttrDef,
                catid,
                &rel.name,
                Some(&rel.schema),
                Payload::AttrDef { table: i, col: c },
            );
            obj.tiebreak = Tiebreak::AttNum(col.num);
            // Defaults of views have no place in CREATE VIEW, nor those of columns
            // CREATE TABLE does not print (inherited ones); generation expressions
            // have no separate syntax.
            let printed = super::kinds::partitions::prints_column(rel, col);
            obj.separate = col.generated == 0 && (rel.kind == b'v' || !printed);
            let separate = obj.separate;
            let id = g.add(obj);
            if separate {
                g.add_dep(id, table_obj[&i]);
            } else {
                g.add_dep(table_obj[&i], id);
            }
        }
    }
}

fn add_checks(g: &mut Graph, catalog: &Catalog, table_obj: &HashMap<usize, ObjId>) {
    for (i, rel) in catalog.relations.iter().enumerate() {
        let Some(d) = &rel.details else { continue };
        for (k, check) in d.checks.iter().enumerate() {
            let mut obj = Graph::new_obj(
                ObjKind::Constraint,
                (cat::PG_CONSTRAINT, check.oid),
                &check.name,
                Some(&rel.schema),
                Payload::Check { table: i, check: k },
            );
            obj.tiebreak = Tiebreak::Table(rel.name.clone());
            obj.separate = !check.validated;
            let separate = obj.separate;
            let id = g.add(obj);
            if !separate {
                g.add_dep(table_obj[&i], id);
            }
        }
    }
}

fn add_indexes(g: &mut Graph, catalog: &Catalog, table_obj: &HashMap<usize, ObjId>) {
    for (i, rel) in catalog.relations.iter().enumerate() {
        let Some(d) = &rel.details else { continue };
        for (k, idx) in d.indexes.iter().enumerate() {
            let mut obj = Graph::new_obj(
                ObjKind::Index,
                (cat::PG_CLASS, idx.oid),
                &idx.name,
                Some(&rel.schema),
                Payload::Index { table: i, index: k },
            );
            obj.separate = true;
            g.add(obj);
            if let Some(con) = &idx.constraint {
                let mut obj = Graph::new_obj(
                    ObjKind::Constraint,
                    (cat::PG_CONSTRAINT, con.oid),
                    &con.name,
                    Some(&rel.schema),
                    Payload::Index { table: i, index: k },
                );
                obj.tiebreak = Tiebreak::Table(rel.name.clone());
                obj.separate = true;
                let id = g.add(obj);
                g.add_dep(id, table_obj[&i]);
            }
        }
    }
}

fn add_fks(g: &mut Graph, catalog: &Catalog) {
    for (i, rel) in catalog.relations.iter().enumerate() {
        let Some(d) = &rel.details else { continue };
        for (k, fk) in d.fks.iter().enumerate() {
            let mut obj = Graph::new_obj(
                ObjKind::FkConstraint,
                (cat::PG_CONSTRAINT, fk.oid),
                &fk.name,
                Some(&rel.schema),
                Payload::Fk { table: i, fk: k },
            );
            obj.tiebreak = Tiebreak::Table(rel.name.clone());
            obj.separate = true;
            g.add(obj);
        }
    }
}

fn add_view_rules(
    g: &mut Graph,
    catalog: &Catalog,
    rel_by_oid: &HashMap<u32, usize>,
    table_obj: &HashMap<usize, ObjId>,
) {
    for rule in &catalog.rules {
        let Some(&ri) = rel_by_oid.get(&rule.table) else {
            continue;
        };
        let rel = &catalog.relations[ri];
        let is_view_rule =
            rule.ev_type == b'1' && rule.is_instead && (rel.kind == b'v' || rel.kind == b'm');
        let mut obj = Graph::new_obj(
            ObjKind::Rule,
            (cat::PG_REWRITE, rule.oid),
            &rule.name,
            Some(&rel.schema),
            Payload::ViewRule(ri),
        );
        obj.tiebreak = Tiebreak::Table(rel.name.clone());
        obj.separate = !is_view_rule;
        let id = g.add(obj);
        if is_view_rule {
            g.add_dep(table_obj[&ri], id);
        }
    }
}

fn add_data(
    g: &mut Graph,
    catalog: &Catalog,
    sel: &Selection,
    opts: &DumpOptions,
    table_obj: &HashMap<usize, ObjId>,
) -> HashMap<usize, ObjId> {
    let mut data_obj = HashMap::new();
    if opts.schema_only {
        return data_obj;
    }
    for (i, rel) in catalog.relations.iter().enumerate() {
        let dumped = sel.tables.contains(&rel.oid) || sel.config_tables.contains_key(&rel.oid);
        if !dumped || sel.no_data.contains(&rel.oid) {
            continue;
        }
        let kind = match rel.kind {
            b'r' => ObjKind::TableData,
            b'S' => ObjKind::SequenceSet,
            b'm' => ObjKind::RefreshMatview,
            _ => continue,
        };
        let mut obj = Graph::new_obj(kind, (0, 0), &rel.name, Some(&rel.schema), Payload::Data(i));
        obj.deps.push(table_obj[&i]);
        data_obj.insert(i, g.add(obj));
    }
    data_obj
}

/// A matview's refresh waits for the refreshes of the matviews it reads.
fn add_matview_refresh_deps(
    g: &mut Graph,
    catalog: &Catalog,
    rel_by_oid: &HashMap<u32, usize>,
    data_obj: &HashMap<usize, ObjId>,
) {
    for (mv, reads) in &catalog.matview_deps {
        let (Some(a), Some(b)) = (rel_by_oid.get(mv), rel_by_oid.get(reads)) else {
            continue;
        };
        if let (Some(&da), Some(&db)) = (data_obj.get(a), data_obj.get(b)) {
            g.add_dep(da, db);
        }
    }
}

/// In data-only dumps, load referenced tables before referencing ones.
fn add_data_fk_deps(
    g: &mut Graph,
    catalog: &Catalog,
    rel_by_oid: &HashMap<u32, usize>,
    data_obj: &HashMap<usize, ObjId>,
) {
    for (i, rel) in catalog.relations.iter().enumerate() {
        let Some(d) = &rel.details else { continue };
        for fk in &d.fks {
            let Some(&ri) = rel_by_oid.get(&fk.ref_table) else {
                continue;
            };
            if let (Some(&da), Some(&db)) = (data_obj.get(&i), data_obj.get(&ri)) {
                g.add_dep(da, db);
            }
        }
    }
}

fn add_pg_depend(g: &mut Graph, catalog: &Catalog) {
    for d in &catalog.depends {
        let (Some(obj), Some(refobj)) = (
            g.find((d.classid, d.objid)),
            g.find((d.refclassid, d.refobjid)),
        ) else {
            continue;
        };
        // A composite type's pg_class row depends internally on its pg_type row;
        // pg_dump reverses that edge so the type follows its columns' types, whose
        // edges hang on the pg_class row.
        let composite_row = d.deptype == b'i'
            && g.objs[obj].kind == ObjKind::Table
            && g.objs[refobj].kind == ObjKind::Type;
        if composite_row {
            g.add_dep(refobj, obj);
        } else {
            g.add_dep(obj, refobj);
        }
    }
}

/// Pre-data objects come before the pre-data boundary, data between the two
/// boundaries, post-data after the post-data boundary.
fn add_boundaries(g: &mut Graph) {
    let pre = g.add(Graph::new_obj(
        ObjKind::PreDataBoundary,
        (0, 0),
        "PRE-DATA BOUNDARY",
        None,
        Payload::None,
    ));
    let post = g.add(Graph::new_obj(
        ObjKind::PostDataBoundary,
        (0, 0),
        "POST-DATA BOUNDARY",
        None,
        Payload::None,
    ));
    for id in 0..pre {
        let obj = &g.objs[id];
        match obj.kind {
            ObjKind::Namespace
            | ObjKind::Collation
            | ObjKind::Type
            | ObjKind::Conversion
            | ObjKind::Table
            | ObjKind::TableAttach
            | ObjKind::AttrDef
            | ObjKind::DummyType
            | ObjKind::ProcLang
            | ObjKind::Transform
            | ObjKind::Cast
            | ObjKind::Func
            | ObjKind::Agg
            | ObjKind::AccessMethod
            | ObjKind::Operator
            | ObjKind::OpClass
            | ObjKind::OpFamily
            | ObjKind::Extension
            | ObjKind::Fdw
            | ObjKind::ForeignServer
            | ObjKind::LargeObject => {
                g.add_dep(pre, id);
            }
            ObjKind::TableData
            | ObjKind::SequenceSet
            | ObjKind::LargeObjectMeta
            | ObjKind::LargeObjectData => {
                g.add_dep(id, pre);
                g.add_dep(post, id);
            }
            ObjKind::Index
            | ObjKind::IndexAttach
            | ObjKind::StatsExt
            | ObjKind::Policy
            | ObjKind::RefreshMatview
            | ObjKind::Trigger
            | ObjKind::EventTrigger
            | ObjKind::Publication
            | ObjKind::PublicationRel
            | ObjKind::PublicationSchema
            | ObjKind::Subscription
            | ObjKind::DefaultAcl => g.add_dep(id, post),
            ObjKind::Rule | ObjKind::Constraint | ObjKind::FkConstraint => {
                if obj.separate {
                    g.add_dep(id, post);
                }
            }
            ObjKind::PreDataBoundary | ObjKind::PostDataBoundary => {}
        }
    }
    g.add_dep(post, pre);
}
