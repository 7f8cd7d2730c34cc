//! Object kinds beyond tables, one module per group of related kinds.
//!
//! Each group module follows the same shape, so kinds can be added independently:
//!
//! * a catalog struct (a field of [`KindCatalog`]) and `async fn read(client, version,
//!   &mut Catalog)`: a fixed number of batched queries for the whole database;
//! * `fn add_objects(graph, catalog, selection)`: one graph object per catalog row, in
//!   pg_dump's creation order, with `cat` set to its `(catalog oid, oid)` so that
//!   `pg_depend` edges attach to it, and a [`KindPayload`] variant pointing back at it;
//! * `fn emit(emitter, obj, item)`: the entries (definition, comment, ACL) pg_dump
//!   writes for it.
//!
//! Optional hooks: [`read_locked`] runs once the dumped tables are locked (for deparse
//! functions such as `pg_get_expr`), and [`add_table_objects`] once tables' own pieces
//! (defaults, constraints, indexes, rules) are in the graph.
//!
//! Registering a group touches only this file, [`super::model::ObjKind`] (its sort
//! priority and section) and the list of still-unsupported kinds in
//! [`super::select::check_supported`].

use super::catalog::Catalog;
use super::emit::Emitter;
use super::model::{Graph, Obj, ObjId};
use super::select::Selection;
use crate::error::Result;
use tokio_postgres::Client;

pub(crate) mod collations;
pub(crate) mod defaultacl;
pub(crate) mod extensions;
pub(crate) mod foreign;
pub(crate) mod functions;
pub(crate) mod largeobjects;
pub(crate) mod operators;
pub(crate) mod partitions;
pub(crate) mod policies;
pub(crate) mod publications;
pub(crate) mod rules;
pub(crate) mod seclabels;
pub(crate) mod statistics;
pub(crate) mod triggers;
pub(crate) mod types;

/// Catalog rows of every kind group.
#[derive(Debug, Default)]
pub(crate) struct KindCatalog {
    pub types: types::Types,
    pub collations: collations::Collations,
    pub functions: functions::Functions,
    pub triggers: triggers::Triggers,
    pub operators: operators::Operators,
    pub extensions: extensions::Extensions,
    pub foreign: foreign::Foreign,
    pub publications: publications::Publications,
    pub largeobjects: largeobjects::LargeObjects,
    pub defaultacls: defaultacl::DefaultAcls,
    pub seclabels: seclabels::SecLabels,
    pub partitions: partitions::Partitions,
    pub rules: rules::Rules,
    pub policies: policies::Policies,
    pub statistics: statistics::Statistics,
}

/// What a graph object of a kind group points back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KindPayload {
    Type(types::Item),
    Collation(collations::Item),
    Function(functions::Item),
    Trigger(triggers::Item),
    Operator(operators::Item),
    Extension(usize),
    Foreign(foreign::Item),
    Publication(publications::Item),
    LargeObject(largeobjects::Item),
    DefaultAcl(usize),
    Partition(partitions::Item),
    Policy(policies::Item),
    Statistics(statistics::Item),
}

/// Reads every kind group's catalog rows.
pub(crate) async fn read(client: &Client, version: i32, catalog: &mut Catalog) -> Result<()> {
    types::read(client, version, catalog).await?;
    collations::read(client, version, catalog).await?;
    extensions::read(client, version, catalog).await?;
    foreign::read(client, version, catalog).await?;
    publications::read(client, version, catalog).await?;
    largeobjects::read(client, version, catalog).await?;
    defaultacl::read(client, version, catalog).await?;
    seclabels::read(client, version, catalog).await?;
    partitions::read(client, version, catalog).await?;
    statistics::read(client, version, catalog).await?;
    Ok(())
}

/// Reads the kind groups whose queries call the server's deparse functions; runs
/// after the tables are locked (pg_dump's "lock first, deparse later").
pub(crate) async fn read_locked(
    client: &Client,
    version: i32,
    catalog: &mut Catalog,
    sel: &Selection,
) -> Result<()> {
    functions::read(client, version, catalog).await?;
    operators::read(client, catalog).await?;
    triggers::read(client, version, catalog, sel).await?;
    partitions::flag_inherited(catalog, sel, version);
    rules::read_details(client, version, catalog, sel).await?;
    policies::read_details(client, version, catalog, sel).await?;
    statistics::read_details(client, version, catalog, sel).await?;
    Ok(())
}

/// Adds every kind group's objects to the graph, in pg_dump's creation order.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, sel: &Selection) {
    functions::add_objects(g, catalog, sel);
    types::add_objects(g, catalog, sel);
    collations::add_objects(g, catalog, sel);
    operators::add_objects(g, catalog, sel);
    triggers::add_objects(g, catalog, sel);
    extensions::add_objects(g, catalog, sel);
    foreign::add_objects(g, catalog, sel);
    publications::add_objects(g, catalog, sel);
    largeobjects::add_objects(g, catalog, sel);
    defaultacl::add_objects(g, catalog, sel);
}

/// Adds the objects that hang off tables' own pieces (indexes, constraints), once
/// those are in the graph: partition attaches, extended statistics, row security.
pub(crate) fn add_table_objects(g: &mut Graph, catalog: &Catalog, sel: &Selection) {
    partitions::add_objects(g, catalog, sel);
    statistics::add_objects(g, catalog, sel);
    policies::add_objects(g, catalog, sel);
}

/// Emits the entries of one object of a kind group.
pub(crate) fn emit(e: &mut Emitter<'_>, obj: &Obj, payload: KindPayload) -> Result<()> {
    match payload {
        KindPayload::Type(item) => types::emit(e, obj, item),
        KindPayload::Collation(item) => collations::emit(e, obj, item),
        KindPayload::Function(item) => functions::emit(e, obj, item),
        KindPayload::Trigger(item) => triggers::emit(e, obj, item),
        KindPayload::Operator(item) => operators::emit(e, obj, item),
        KindPayload::Extension(i) => extensions::emit(e, obj, i),
        KindPayload::Foreign(item) => foreign::emit(e, obj, item),
        KindPayload::Publication(item) => publications::emit(e, obj, item),
        KindPayload::LargeObject(item) => largeobjects::emit(e, obj, item),
        KindPayload::DefaultAcl(i) => defaultacl::emit(e, obj, i),
        KindPayload::Partition(item) => partitions::emit(e, obj, item),
        KindPayload::Policy(item) => policies::emit(e, obj, item),
        KindPayload::Statistics(item) => statistics::emit(e, obj, item),
    }
}

/// Repairs a dependency loop `lp` that involves objects of a kind group, as pg_dump
/// does; false when no kind group knows the loop.
pub(crate) fn repair_loop(g: &mut Graph, lp: &[ObjId]) -> bool {
    types::repair_loop(g, lp)
}

/// Whether an object in schema `nsp` with catalog id `cat` is dumped: its schema's
/// contents are, and it is not a member of an extension.
pub(crate) fn selected(catalog: &Catalog, sel: &Selection, nsp: u32, cat: (u32, u32)) -> bool {
    sel.schemas.contains(&nsp) && !catalog.ext_members.contains(&cat)
}
