//! The dump's object graph: every catalog object that takes part in ordering, with
//! the dependencies between them.
//!
//! This mirrors pg_dump's "dumpable objects": objects that are not dumped still sit in
//! the graph, because their dependencies shape the order of those that are.

use std::collections::HashMap;

/// Catalog OIDs of the system catalogs that `pg_depend` rows point into.
pub(crate) mod catalog_oid {
    pub const PG_CLASS: u32 = 1259;
    pub const PG_TYPE: u32 = 1247;
    pub const PG_NAMESPACE: u32 = 2615;
    pub const PG_ATTRDEF: u32 = 2604;
    pub const PG_CONSTRAINT: u32 = 2606;
    pub const PG_REWRITE: u32 = 2618;
    pub const PG_PROC: u32 = 1255;
    pub const PG_LANGUAGE: u32 = 2612;
    pub const PG_CAST: u32 = 2605;
    pub const PG_TRANSFORM: u32 = 3576;
    pub const PG_TRIGGER: u32 = 2620;
    pub const PG_EVENT_TRIGGER: u32 = 3466;
    pub const PG_OPERATOR: u32 = 2617;
    pub const PG_OPCLASS: u32 = 2616;
    pub const PG_OPFAMILY: u32 = 2753;
    pub const PG_AM: u32 = 2601;
}

/// The kind of a graph object. The order of the variants does not matter; the sort
/// priority is [`ObjKind::priority`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjKind {
    Namespace,
    Collation,
    /// A user-defined type (enum, composite, domain, range, base), or the shell type
    /// written ahead of a base or range type's functions.
    Type,
    Conversion,
    /// A procedural language.
    ProcLang,
    /// A transform (type + language).
    Transform,
    /// A cast.
    Cast,
    /// A function or procedure; `separate` marks one postponed to post-data.
    Func,
    /// An aggregate.
    Agg,
    /// An access method.
    AccessMethod,
    Operator,
    /// An operator class.
    OpClass,
    /// An operator family.
    OpFamily,
    /// Tables, views, materialized views, sequences, foreign tables, composite types'
    /// pg_class rows.
    Table,
    /// `ALTER TABLE ONLY parent ATTACH PARTITION child ...` (pre-data).
    TableAttach,
    /// A table's row type or an array type: never dumped, kept for ordering.
    DummyType,
    /// A column default or generation expression.
    AttrDef,
    /// PRIMARY KEY, UNIQUE, EXCLUDE (with an index) or CHECK constraint.
    Constraint,
    /// FOREIGN KEY constraint.
    FkConstraint,
    /// A row-level security policy, or row security being enabled on a table.
    Policy,
    Index,
    /// `ALTER INDEX parent ATTACH PARTITION child` (post-data).
    IndexAttach,
    /// An extended statistics object (post-data).
    StatsExt,
    /// A rewrite rule (a view's ON SELECT rule, merged into CREATE VIEW unless a
    /// loop splits it out, or a rule of its own).
    Rule,
    /// A trigger on a table.
    Trigger,
    EventTrigger,
    TableData,
    SequenceSet,
    RefreshMatview,
    PreDataBoundary,
    PostDataBoundary,
    Extension,
    /// A foreign-data wrapper.
    Fdw,
    /// A foreign server (with its user mappings).
    ForeignServer,
    Publication,
    /// A table in a publication.
    PublicationRel,
    /// A schema in a publication (15+).
    PublicationSchema,
    Subscription,
    /// A large object's metadata on servers up to 16 (pre-data `BLOB` entries).
    LargeObject,
    /// A group of large objects' metadata on 17+ (data-section `BLOB METADATA`).
    LargeObjectMeta,
    /// The data of all (≤16) or of a group of (17+) large objects.
    LargeObjectData,
    /// A `pg_default_acl` entry.
    DefaultAcl,
}

impl ObjKind {
    /// pg_dump's sort priority (`dbObjectTypePriorities`): only the relative order
    /// matters. Gaps leave room for the kinds pgbm does not model yet.
    pub(crate) fn priority(self) -> u32 {
        match self {
            ObjKind::Namespace => 1,
            ObjKind::Collation => 3,
            ObjKind::Type => 6,
            ObjKind::Conversion => 13,
            ObjKind::ProcLang => 2,
            ObjKind::Transform => 4,
            ObjKind::Cast => 7,
            ObjKind::Func => 8,
            ObjKind::Agg => 9,
            ObjKind::AccessMethod => 10,
            ObjKind::Operator => 11,
            ObjKind::OpClass | ObjKind::OpFamily => 12,
            ObjKind::Table => 20,
            ObjKind::TableAttach => 21,
            ObjKind::DummyType => 22,
            ObjKind::AttrDef => 23,
            ObjKind::PreDataBoundary => 25,
            ObjKind::TableData => 26,
            ObjKind::SequenceSet => 27,
            ObjKind::PostDataBoundary => 31,
            ObjKind::Constraint => 32,
            ObjKind::Index => 33,
            ObjKind::IndexAttach => 34,
            ObjKind::StatsExt => 35,
            ObjKind::Rule => 36,
            ObjKind::Trigger => 37,
            ObjKind::FkConstraint => 38,
            ObjKind::Policy => 39,
            ObjKind::EventTrigger => 46,
            ObjKind::RefreshMatview => 47,
            ObjKind::Extension => 5,
            ObjKind::Fdw => 18,
            ObjKind::ForeignServer => 19,
            ObjKind::Publication => 40,
            ObjKind::PublicationRel => 41,
            ObjKind::PublicationSchema => 42,
            ObjKind::Subscription => 43,
            ObjKind::LargeObject => 24,
            ObjKind::LargeObjectMeta => 28,
            ObjKind::LargeObjectData => 29,
            ObjKind::DefaultAcl => 45,
        }
    }
}

/// Index of an object in [`Graph::objs`]; doubles as pg_dump's "dump id" (creation
/// order), which decides tie-breaks when dependency loops are searched.
pub(crate) type ObjId = usize;

/// What an object points back to in the [`super::catalog::Catalog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Payload {
    None,
    Namespace(usize),
    Table(usize),
    AttrDef {
        table: usize,
        col: usize,
    },
    Check {
        table: usize,
        check: usize,
    },
    Index {
        table: usize,
        index: usize,
    },
    Fk {
        table: usize,
        fk: usize,
    },
    ViewRule(usize),
    Data(usize),
    /// An object of a kind group in [`super::kinds`].
    Kind(super::kinds::KindPayload),
}

/// One node of the graph.
#[derive(Debug, Clone)]
pub(crate) struct Obj {
    pub kind: ObjKind,
    /// (catalog, oid) as in `pg_depend`; `(0, 0)` for objects pg_depend never names.
    pub cat: (u32, u32),
    pub name: String,
    pub namespace: Option<String>,
    /// Objects that must come before this one.
    pub deps: Vec<ObjId>,
    /// Tie-break after priority, namespace and name (pg_dump's per-kind rules).
    pub tiebreak: Tiebreak,
    pub payload: Payload,
    /// For constraints, defaults and rules: emitted as a separate entry rather than
    /// inside the table's (or domain's) definition. For a shell type: written at all
    /// (a function of its type needs it).
    pub separate: bool,
}

/// Secondary sort key for objects of equal priority, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tiebreak {
    None,
    /// A shell type, which follows the type of the same name (pg_dump compares object
    /// types before anything else).
    ShellType,
    /// Column number of a default.
    AttNum(i32),
    /// Owning domain of a domain constraint (these sort before table constraints).
    Domain(String),
    /// Owning table of a constraint or rule.
    Table(String),
    /// Functions and aggregates: argument count, then each argument type as
    /// (schema, type name).
    Func(usize, Vec<(String, String)>),
    /// Operators: kind (postfix, prefix, infix: descending), then the left and right
    /// operand types as (schema, type name).
    Operator(std::cmp::Reverse<u8>, (String, String), (String, String)),
    /// Operator classes (0) before families (1), then the access method name.
    AccessMethod(u8, String),
}

/// The object graph plus a catalog-id index.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    pub objs: Vec<Obj>,
    by_cat: HashMap<(u32, u32), ObjId>,
    /// The objects of views (not materialized views): loop repairs treat them apart.
    pub views: std::collections::HashSet<ObjId>,
    /// A partition's index object -> the partitioned index object it is attached to.
    pub index_parents: HashMap<ObjId, ObjId>,
}

impl Graph {
    /// Adds an object and returns its id.
    pub(crate) fn add(&mut self, obj: Obj) -> ObjId {
        let id = self.objs.len();
        if obj.cat != (0, 0) {
            self.by_cat.insert(obj.cat, id);
        }
        self.objs.push(obj);
        id
    }

    /// A new object with no dependencies.
    pub(crate) fn new_obj(
        kind: ObjKind,
        cat: (u32, u32),
        name: &str,
        namespace: Option<&str>,
        payload: Payload,
    ) -> Obj {
        Obj {
            kind,
            cat,
            name: name.to_string(),
            namespace: namespace.map(str::to_string),
            deps: Vec::new(),
            tiebreak: Tiebreak::None,
            payload,
            separate: false,
        }
    }

    /// The object for a `pg_depend` catalog id, if the graph has one.
    pub(crate) fn find(&self, cat: (u32, u32)) -> Option<ObjId> {
        self.by_cat.get(&cat).copied()
    }

    /// Records that `obj` must come after `dep`.
    pub(crate) fn add_dep(&mut self, obj: ObjId, dep: ObjId) {
        self.objs[obj].deps.push(dep);
    }

    /// Removes every "after" edge from `obj` to `dep`.
    pub(crate) fn remove_dep(&mut self, obj: ObjId, dep: ObjId) {
        self.objs[obj].deps.retain(|&d| d != dep);
    }
}
