//! Ordering of the object graph, as pg_dump orders it.
//!
//! 1. Pre-sort by (kind priority, schema name, object name, per-kind tie-break, OID),
//!    so that logically equal databases dump identically.
//! 2. A topological sort that disturbs that order as little as possible: working from
//!    the end, it always places the latest object (in pre-sort order) that nothing
//!    still unplaced has to follow.
//! 3. When dependencies form loops, find them and repair them the way pg_dump does
//!    (e.g. a `serial` default is split out of its CREATE TABLE), then sort again.
//!
//! The exact traversal order matters: it decides which edge of a loop is cut, so the
//! loop search follows object creation order ("dump ids") like pg_dump's.

use super::model::{Graph, ObjId, ObjKind};
use crate::error::{Error, Result};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Sorts the graph; returns object ids in output order. Repairs loops in `graph`.
pub(crate) fn sort(graph: &mut Graph) -> Result<Vec<ObjId>> {
    let presorted = presort(graph);
    // Every repair removes at least one edge, so this terminates; the bound is a
    // guard against a repair that fails to make progress.
    for _ in 0..=graph.objs.len() {
        match topo_sort(graph, &presorted) {
            Ok(order) => return Ok(order),
            Err(unplaced) => find_and_repair_loops(graph, &unplaced)?,
        }
    }
    Err(Error::internal("could not resolve dependency loops"))
}

/// Object ids ordered by pg_dump's type-and-name comparison.
fn presort(graph: &Graph) -> Vec<ObjId> {
    let mut ids: Vec<ObjId> = (0..graph.objs.len()).collect();
    ids.sort_by(|&a, &b| compare(graph, a, b));
    ids
}

fn compare(graph: &Graph, a: ObjId, b: ObjId) -> Ordering {
    let (x, y) = (&graph.objs[a], &graph.objs[b]);
    x.kind
        .priority()
        .cmp(&y.kind.priority())
        .then_with(|| match (&x.namespace, &y.namespace) {
            (Some(p), Some(q)) => p.as_bytes().cmp(q.as_bytes()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| x.name.as_bytes().cmp(y.name.as_bytes()))
        .then_with(|| x.tiebreak.cmp(&y.tiebreak))
        .then_with(|| x.cat.1.cmp(&y.cat.1))
}

/// Knuth's topological sort, emitting from the end and preferring the object latest
/// in `presorted`. On failure returns the objects that could not be placed, in
/// creation (id) order.
fn topo_sort(graph: &Graph, presorted: &[ObjId]) -> Result<Vec<ObjId>, Vec<ObjId>> {
    let n = graph.objs.len();
    let mut position = vec![0usize; n];
    for (i, &id) in presorted.iter().enumerate() {
        position[id] = i;
    }
    // before[k]: how many objects still to be placed must come after k.
    let mut before = vec![0usize; n];
    for obj in &graph.objs {
        for &d in &obj.deps {
            before[d] += 1;
        }
    }
    let mut ready: BinaryHeap<usize> = presorted
        .iter()
        .enumerate()
        .filter(|(_, &id)| before[id] == 0)
        .map(|(i, _)| i)
        .collect();
    let mut out = vec![usize::MAX; n];
    let mut remaining = n;
    while let Some(pos) = ready.pop() {
        let id = presorted[pos];
        remaining -= 1;
        out[remaining] = id;
        for &d in &graph.objs[id].deps {
            before[d] -= 1;
            if before[d] == 0 {
                ready.push(position[d]);
            }
        }
    }
    if remaining == 0 {
        Ok(out)
    } else {
        Err((0..n).filter(|&id| before[id] != 0).collect())
    }
}

/// Finds dependency loops among `candidates` and repairs each one found.
fn find_and_repair_loops(graph: &mut Graph, candidates: &[ObjId]) -> Result<()> {
    let n = graph.objs.len();
    let mut processed = vec![false; n];
    // search_failed[j] == Some(k): no path from j back to start point k.
    let mut search_failed: Vec<Option<ObjId>> = vec![None; n];
    let mut fixed = false;
    for &start in candidates {
        let mut path = Vec::new();
        if find_loop(
            graph,
            start,
            start,
            &processed,
            &mut search_failed,
            &mut path,
        ) {
            repair_loop(graph, &path)?;
            fixed = true;
            for &id in &path {
                processed[id] = true;
            }
        } else {
            processed[start] = true;
        }
    }
    if fixed {
        Ok(())
    } else {
        Err(Error::internal("could not identify dependency loop"))
    }
}

/// Depth-first search for a path from `obj` back to `start`; on success `path` holds
/// the loop, starting with `start`.
fn find_loop(
    graph: &Graph,
    obj: ObjId,
    start: ObjId,
    processed: &[bool],
    search_failed: &mut [Option<ObjId>],
    path: &mut Vec<ObjId>,
) -> bool {
    if processed[obj] || search_failed[obj] == Some(start) || path.contains(&obj) {
        return false;
    }
    path.push(obj);
    if graph.objs[obj].deps.contains(&start) {
        return true;
    }
    for &next in &graph.objs[obj].deps {
        if find_loop(graph, next, start, processed, search_failed, path) {
            return true;
        }
    }
    path.pop();
    search_failed[obj] = Some(start);
    false
}

/// Repairs one loop the way pg_dump does for the object kinds pgbm models.
fn repair_loop(graph: &mut Graph, lp: &[ObjId]) -> Result<()> {
    if lp.len() == 2 {
        let (a, b) = (lp[0], lp[1]);
        for (owner, member) in [(a, b), (b, a)] {
            // A view and its ON SELECT rule: the rule stays inside CREATE VIEW.
            // A table and its inline CHECK constraint or default: likewise.
            let inline_member = matches!(
                (kind_of(graph, owner), kind_of(graph, member)),
                (ObjKind::Table, ObjKind::Rule)
                    | (ObjKind::Table, ObjKind::Constraint)
                    | (ObjKind::Table, ObjKind::AttrDef)
            );
            if inline_member && belongs_to(graph, member, owner) {
                graph.remove_dep(member, owner);
                return Ok(());
            }
        }
    }
    // A partition's index and the partitioned index it is attached to: the child
    // index does not have to come after its parent (pg_dump drops that edge).
    if lp.len() == 2 {
        for (child, parent) in [(lp[0], lp[1]), (lp[1], lp[0])] {
            if graph.index_parents.get(&child) == Some(&parent) {
                graph.remove_dep(child, parent);
                return Ok(());
            }
        }
    }
    // A longer loop through a view (not a materialized view) and its ON SELECT rule:
    // the view is created early with a dummy body, and the rule, now separate and
    // post-data, replaces it with the real one (pg_dump's repairViewRuleMultiLoop).
    if lp.len() > 2 {
        for &v in lp.iter().filter(|&&v| graph.views.contains(&v)) {
            let rule = lp.iter().copied().find(|&r| {
                kind_of(graph, r) == ObjKind::Rule
                    && !graph.objs[r].separate
                    && belongs_to(graph, r, v)
            });
            if let Some(r) = rule {
                graph.remove_dep(v, r);
                graph.objs[r].separate = true;
                graph.add_dep(r, v);
                if let Some(post) = find_kind(graph, ObjKind::PostDataBoundary) {
                    graph.add_dep(r, post);
                }
                return Ok(());
            }
        }
    }
    // A longer loop through a materialized view or a function and the pre-data
    // boundary (a matview grouping by a primary key, a SQL-standard body that needs an
    // index or constraint): drop the boundary's edge to the object after it in the
    // loop; when that is the matview or function, it moves to post-data. Matviews
    // that read a postponed one come through here in turn (pg_dump's
    // repairMatViewBoundaryMultiLoop and repairFunctionBoundaryMultiLoop).
    let postponable =
        |g: &Graph, id: ObjId| kind_of(g, id) == ObjKind::Func || g.matviews.contains(&id);
    if lp.len() > 2 && lp.iter().any(|&id| postponable(graph, id)) {
        if let Some(j) = lp
            .iter()
            .position(|&id| kind_of(graph, id) == ObjKind::PreDataBoundary)
        {
            let next = lp[(j + 1) % lp.len()];
            graph.remove_dep(lp[j], next);
            if postponable(graph, next) {
                graph.objs[next].separate = true;
            }
            return Ok(());
        }
    }
    // A longer loop through a table and one of its inline defaults or CHECK
    // constraints: emit that piece separately, after the table.
    for &t in lp {
        if kind_of(graph, t) != ObjKind::Table {
            continue;
        }
        for &m in lp {
            if matches!(kind_of(graph, m), ObjKind::AttrDef | ObjKind::Constraint)
                && belongs_to(graph, m, t)
                && !graph.objs[m].separate
            {
                graph.objs[m].separate = true;
                graph.remove_dep(t, m);
                graph.add_dep(m, t);
                if kind_of(graph, m) == ObjKind::Constraint {
                    if let Some(post) = find_kind(graph, ObjKind::PostDataBoundary) {
                        graph.add_dep(m, post);
                    }
                }
                return Ok(());
            }
        }
    }
    // Loops of the kinds in `super::kinds` (a type and its functions, a domain and
    // its constraints), repaired the way pg_dump repairs them.
    if super::kinds::repair_loop(graph, lp) {
        return Ok(());
    }
    if lp.len() == 1 && kind_of(graph, lp[0]) == ObjKind::Table {
        // A table depending on itself (column-level dependencies): ignore.
        graph.remove_dep(lp[0], lp[0]);
        return Ok(());
    }
    if lp
        .iter()
        .all(|&id| kind_of(graph, id) == ObjKind::TableData)
    {
        let names: Vec<&str> = lp.iter().map(|&id| graph.objs[id].name.as_str()).collect();
        tracing::warn!(
            tables = ?names,
            "there are circular foreign-key constraints among these tables; \
             a data-only restore may need the constraints dropped or triggers disabled"
        );
        let next = if lp.len() > 1 { lp[1] } else { lp[0] };
        graph.remove_dep(lp[0], next);
        return Ok(());
    }
    let names: Vec<String> = lp
        .iter()
        .map(|&id| format!("{:?} {}", graph.objs[id].kind, graph.objs[id].name))
        .collect();
    Err(Error::unsupported(format!(
        "could not resolve dependency loop among: {}",
        names.join(", ")
    )))
}

/// Whether `member` (a default, constraint or rule) belongs to table `table`.
fn belongs_to(graph: &Graph, member: ObjId, table: ObjId) -> bool {
    use super::model::Payload;
    let Payload::Table(t) = graph.objs[table].payload else {
        return false;
    };
    match graph.objs[member].payload {
        Payload::AttrDef { table, .. } | Payload::Check { table, .. } => table == t,
        Payload::ViewRule(v) => v == t,
        _ => false,
    }
}

/// The kind of object `id`. Read from the graph each time: repair_loop runs once per
/// loop, and a database of many small loops (each table with an inline CHECK
/// constraint) must not cost a pass over every object per loop.
fn kind_of(graph: &Graph, id: ObjId) -> ObjKind {
    graph.objs[id].kind
}

fn find_kind(graph: &Graph, kind: ObjKind) -> Option<ObjId> {
    graph.objs.iter().position(|o| o.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::model::{Obj, Payload, Tiebreak};

    fn obj(kind: ObjKind, name: &str, payload: Payload) -> Obj {
        let mut o = Graph::new_obj(kind, (0, 0), name, Some("s"), payload);
        o.tiebreak = Tiebreak::None;
        o
    }

    fn names(g: &Graph, order: &[ObjId]) -> Vec<String> {
        order.iter().map(|&i| g.objs[i].name.clone()).collect()
    }

    #[test]
    fn keeps_name_order_when_unconstrained() {
        let mut g = Graph::default();
        g.add(obj(ObjKind::Table, "b", Payload::None));
        g.add(obj(ObjKind::Table, "a", Payload::None));
        g.add(obj(ObjKind::Namespace, "z", Payload::None));
        let order = sort(&mut g).unwrap();
        assert_eq!(names(&g, &order), ["z", "a", "b"]);
    }

    #[test]
    fn dependencies_move_objects_minimally() {
        let mut g = Graph::default();
        let a = g.add(obj(ObjKind::Table, "a", Payload::None));
        let b = g.add(obj(ObjKind::Table, "b", Payload::None));
        let c = g.add(obj(ObjKind::Table, "c", Payload::None));
        g.add_dep(a, c); // a after c
        let order = sort(&mut g).unwrap();
        // Placed from the end: b (latest free), then a, which frees c.
        assert_eq!(names(&g, &order), ["c", "a", "b"]);
        let _ = b;
    }

    #[test]
    fn serial_loop_splits_the_default_out() {
        // table -> inline default -> sequence -> table
        let mut g = Graph::default();
        let t = g.add(obj(ObjKind::Table, "t", Payload::Table(0)));
        let s = g.add(obj(ObjKind::Table, "t_id_seq", Payload::Table(1)));
        let d = g.add(obj(
            ObjKind::AttrDef,
            "t",
            Payload::AttrDef { table: 0, col: 0 },
        ));
        g.add_dep(t, d);
        g.add_dep(d, t);
        g.add_dep(d, s);
        g.add_dep(s, t);
        let order = sort(&mut g).unwrap();
        assert!(g.objs[d].separate);
        assert_eq!(names(&g, &order), ["t", "t_id_seq", "t"]);
        assert_eq!(order[2], d);
    }

    #[test]
    fn view_rule_loop_makes_a_dummy_view() {
        // view -> its ON SELECT rule -> table -> view (the table has a column of the
        // view's row type, the view reads the table).
        let mut g = Graph::default();
        let v = g.add(obj(ObjKind::Table, "v", Payload::Table(0)));
        g.views.insert(v);
        let h = g.add(obj(ObjKind::Table, "h", Payload::Table(1)));
        let r = g.add(obj(ObjKind::Rule, "_RETURN", Payload::ViewRule(0)));
        let post = g.add(obj(ObjKind::PostDataBoundary, "post", Payload::None));
        g.add_dep(v, r);
        g.add_dep(r, h);
        g.add_dep(h, v);
        let order = sort(&mut g).unwrap();
        assert!(g.objs[r].separate);
        assert_eq!(order, [v, h, post, r]);
    }

    #[test]
    fn partition_index_loop_drops_the_child_edge() {
        let mut g = Graph::default();
        let parent = g.add(obj(ObjKind::Index, "p_idx", Payload::None));
        let child = g.add(obj(ObjKind::Index, "c_idx", Payload::None));
        g.index_parents.insert(child, parent);
        g.add_dep(child, parent);
        g.add_dep(parent, child);
        let order = sort(&mut g).unwrap();
        assert_eq!(order, [child, parent]);
    }

    #[test]
    fn unknown_loops_are_errors() {
        let mut g = Graph::default();
        let a = g.add(obj(ObjKind::Index, "a", Payload::None));
        let b = g.add(obj(ObjKind::Index, "b", Payload::None));
        g.add_dep(a, b);
        g.add_dep(b, a);
        let err = sort(&mut g).unwrap_err();
        assert!(err.to_string().contains("dependency loop"), "{err}");
    }
}
