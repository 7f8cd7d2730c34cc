//! Turns sorted objects into "TOC entries": the SQL text pg_dump writes for each
//! object, with the metadata of its `-- Name: ...` header.

use super::catalog::{Catalog, Column, Database, RelDetails, Relation};
use super::kinds::partitions;
use super::model::{Graph, ObjId, ObjKind, Payload};
use super::select::Selection;
use super::DumpOptions;
use crate::error::{Error, Result};
use crate::sql::{build_acl_commands, qualified, quote_ident, quote_literal, AclTarget};
use std::collections::HashSet;

/// Which pass of the output an entry is printed in (pg_dump prints all ACLs after
/// everything else, then matview refreshes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    Main,
    Acl,
    PostAcl,
}

/// One entry of the dump, as pg_dump's plain-format archiver prints it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub tag: String,
    pub desc: &'static str,
    pub namespace: Option<String>,
    pub owner: String,
    /// `Some("")` means "the default tablespace"; `None`: not a storage object.
    pub tablespace: Option<String>,
    pub table_am: Option<String>,
    pub create: String,
    pub drop: String,
    /// For TABLE DATA: the `COPY ... FROM stdin;` line and the extraction query.
    pub copy: Option<CopySpec>,
    /// A data entry (TABLE DATA, SEQUENCE SET) rather than schema.
    pub is_data: bool,
    pub pass: Pass,
    /// SQL for `ALTER <owner_object> OWNER TO`, if the kind has owners.
    pub owner_object: Option<String>,
    /// The entry has no owner at all (extensions, casts, ...): the header says
    /// `Owner: -`, unlike an empty owner (`Owner: `).
    pub ownerless: bool,
    /// For `BLOBS`: the large objects whose contents the entry streams, in order.
    pub blobs: Option<Vec<u32>>,
    /// A statement printed after the owner's (pg_dump 17+ gives a partitioned table
    /// its access method there: `ALTER TABLE ... SET ACCESS METHOD`).
    pub after_owner: String,
}

/// How to stream one table's data.
#[derive(Debug, Clone)]
pub(crate) struct CopySpec {
    pub copy_from: String,
    pub copy_to: String,
    /// Size estimate from the catalog (bytes), for scheduling.
    pub estimated_bytes: i64,
}

/// Context shared by the emit functions.
pub(crate) struct Emitter<'a> {
    pub catalog: &'a Catalog,
    pub sel: &'a Selection,
    pub opts: &'a DumpOptions,
    pub version: i32,
    pub entries: Vec<Entry>,
    /// Defaults (table, column index) and CHECKs (table, check index) written as
    /// separate entries, so not inside CREATE TABLE.
    separate_defaults: HashSet<(usize, usize)>,
    separate_checks: HashSet<(usize, usize)>,
    /// Views (relation indexes) whose ON SELECT rule a dependency loop made separate:
    /// created with a dummy body, completed by a `_RETURN` RULE entry.
    dummy_views: HashSet<usize>,
    /// Catalog ids of every graph object marked `separate` (e.g. domain constraints
    /// written as their own entry rather than inside CREATE DOMAIN).
    pub separate_objs: HashSet<(u32, u32)>,
}

impl Entry {
    /// A new entry with the header fields set and everything else empty.
    pub(crate) fn new(
        tag: String,
        desc: &'static str,
        namespace: Option<&str>,
        owner: &str,
    ) -> Self {
        let pass = match desc {
            "ACL" | "DEFAULT ACL" => Pass::Acl,
            "MATERIALIZED VIEW DATA" | "EVENT TRIGGER" => Pass::PostAcl,
            // Comments follow their object, and event triggers have no ACLs.
            "COMMENT" if tag.starts_with("EVENT TRIGGER ") => Pass::PostAcl,
            _ => Pass::Main,
        };
        Entry {
            tag,
            desc,
            namespace: namespace.map(str::to_string),
            owner: owner.to_string(),
            tablespace: None,
            table_am: None,
            create: String::new(),
            drop: String::new(),
            copy: None,
            is_data: false,
            pass,
            owner_object: None,
            ownerless: false,
            blobs: None,
            after_owner: String::new(),
        }
    }
}

/// Builds all entries: `DATABASE` ones first (used only with `--create`), then one
/// group per object in `order`.
pub(crate) fn emit(
    catalog: &Catalog,
    graph: &Graph,
    sel: &Selection,
    opts: &DumpOptions,
    version: i32,
    database: Option<&Database>,
    order: &[ObjId],
) -> Result<Vec<Entry>> {
    let mut e = Emitter {
        catalog,
        sel,
        opts,
        version,
        entries: Vec::new(),
        separate_defaults: HashSet::new(),
        separate_checks: HashSet::new(),
        dummy_views: HashSet::new(),
        separate_objs: HashSet::new(),
    };
    for obj in graph.objs.iter().filter(|o| o.separate) {
        e.separate_objs.insert(obj.cat);
        match obj.payload {
            Payload::AttrDef { table, col } => {
                e.separate_defaults.insert((table, col));
            }
            Payload::Check { table, check } => {
                e.separate_checks.insert((table, check));
            }
            Payload::ViewRule(ri) if catalog.relations[ri].kind == b'v' => {
                let rule = catalog.rules.iter().find(|r| r.oid == obj.cat.1);
                if rule
                    .is_some_and(|r| super::kinds::rules::is_view_rule(r, &catalog.relations[ri]))
                {
                    e.dummy_views.insert(ri);
                }
            }
            _ => {}
        }
    }
    if let Some(db) = database {
        e.database(db)?;
    }
    for &id in order {
        let obj = &graph.objs[id];
        match (obj.kind, obj.payload) {
            (ObjKind::Namespace, Payload::Namespace(i)) => e.namespace(i)?,
            (ObjKind::Table, Payload::Table(i)) => e.relation(i)?,
            (ObjKind::AttrDef, Payload::AttrDef { table, col }) if obj.separate => {
                e.separate_default(table, col);
            }
            (ObjKind::Constraint, Payload::Check { table, check }) if obj.separate => {
                e.separate_check(table, check);
            }
            (ObjKind::Constraint, Payload::Index { table, index }) => {
                e.index_constraint(table, index);
            }
            (ObjKind::Index, Payload::Index { table, index }) => e.index(table, index),
            (ObjKind::FkConstraint, Payload::Fk { table, fk }) => e.foreign_key(table, fk),
            (ObjKind::Rule, Payload::ViewRule(_)) if obj.separate => {
                super::kinds::rules::emit(&mut e, obj)?;
            }
            (ObjKind::TableData, Payload::Data(i)) => e.table_data(i),
            (ObjKind::SequenceSet, Payload::Data(i)) => e.sequence_set(i),
            (ObjKind::RefreshMatview, Payload::Data(i)) => e.refresh(i),
            (_, Payload::Kind(k)) => super::kinds::emit(&mut e, obj, k)?,
            _ => {}
        }
    }
    Ok(e.entries)
}

impl<'a> Emitter<'a> {
    /// Appends an entry.
    pub(crate) fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// `COMMENT ON <kind> <name>` for an object with a comment.
    pub(crate) fn comment(
        &mut self,
        kind: &str,
        name: &str,
        namespace: Option<&str>,
        owner: &str,
        text: &str,
    ) {
        if self.opts.no_comments {
            return;
        }
        let target = match namespace {
            Some(ns) => format!("{}.{name}", quote_ident(ns)),
            None => name.to_string(),
        };
        let mut e = Entry::new(format!("{kind} {name}"), "COMMENT", namespace, owner);
        e.create = format!("COMMENT ON {kind} {target} IS {};\n", quote_literal(text));
        self.push(e);
    }

    /// The comment on an object (sub-object `subid`, 0 for the object itself).
    pub(crate) fn comment_of(&self, classoid: u32, oid: u32, subid: i32) -> Option<&str> {
        self.catalog
            .comments
            .get(&(classoid, oid))?
            .iter()
            .find(|(s, _)| *s == subid)
            .map(|(_, d)| d.as_str())
    }

    /// The GRANT/REVOKE entry that turns `base` into `acls`, if they differ.
    pub(crate) fn acl(
        &mut self,
        target: &AclTarget<'_>,
        acls: &[String],
        base: &[String],
        tag: String,
    ) -> Result<()> {
        if self.opts.no_privileges {
            return Ok(());
        }
        let sql = build_acl_commands(target, acls, base, self.version)?;
        if sql.is_empty() {
            return Ok(());
        }
        let mut e = Entry::new(tag, "ACL", target.namespace, target.owner.unwrap_or(""));
        e.create = sql;
        self.push(e);
        Ok(())
    }

    fn database(&mut self, db: &Database) -> Result<()> {
        let q = quote_ident(&db.name);
        let mut create = format!("CREATE DATABASE {q} WITH TEMPLATE = template0");
        if !db.encoding.is_empty() {
            create.push_str(&format!(" ENCODING = {}", quote_literal(&db.encoding)));
        }
        if self.version >= 150000 {
            let provider = match db.locale_provider {
                b'c' => "libc",
                b'i' => "icu",
                b'b' => "builtin",
                other => {
                    return Err(Error::unsupported(format!(
                        "unrecognized locale provider {:?}",
                        other as char
                    )))
                }
            };
            create.push_str(&format!(" LOCALE_PROVIDER = {provider}"));
        }
        if !db.collate.is_empty() && db.collate == db.ctype {
            create.push_str(&format!(" LOCALE = {}", quote_literal(&db.collate)));
        } else {
            if !db.collate.is_empty() {
                create.push_str(&format!(" LC_COLLATE = {}", quote_literal(&db.collate)));
            }
            if !db.ctype.is_empty() {
                create.push_str(&format!(" LC_CTYPE = {}", quote_literal(&db.ctype)));
            }
        }
        if let Some(locale) = &db.icu_locale {
            let keyword = if db.locale_provider == b'b' {
                "BUILTIN_LOCALE"
            } else {
                "ICU_LOCALE"
            };
            create.push_str(&format!(" {keyword} = {}", quote_literal(locale)));
        }
        if let Some(rules) = &db.icu_rules {
            create.push_str(&format!(" ICU_RULES = {}", quote_literal(rules)));
        }
        if !db.tablespace.is_empty() && db.tablespace != "pg_default" {
            create.push_str(&format!(" TABLESPACE = {}", quote_ident(&db.tablespace)));
        }
        create.push_str(";\n");
        let mut e = Entry::new(db.name.clone(), "DATABASE", None, &db.owner);
        e.create = create;
        e.drop = format!("DROP DATABASE {q};\n");
        e.owner_object = Some(format!("DATABASE {q}"));
        self.push(e);
        if let Some(c) = &db.comment {
            if !c.is_empty() {
                self.comment("DATABASE", &q, None, &db.owner, c);
            }
        }
        super::kinds::seclabels::database_labels(self, &db.name, &db.owner);
        if let Some(acl) = &db.acl {
            let target = AclTarget {
                kind: "DATABASE",
                name: &q,
                subname: None,
                namespace: None,
                owner: Some(&db.owner),
            };
            self.acl(&target, acl, &db.acl_default, format!("DATABASE {q}"))?;
        }
        self.database_properties(db, &q);
        Ok(())
    }

    fn database_properties(&mut self, db: &Database, q: &str) {
        let mut create = String::new();
        let mut drop = String::new();
        if db.conn_limit != -1 {
            create.push_str(&format!(
                "ALTER DATABASE {q} CONNECTION LIMIT = {};\n",
                db.conn_limit
            ));
        }
        if db.is_template {
            create.push_str(&format!("ALTER DATABASE {q} IS_TEMPLATE = true;\n"));
            drop.push_str(&format!(
                "UPDATE pg_catalog.pg_database SET datistemplate = false WHERE datname = {};\n",
                quote_literal(&db.name)
            ));
        }
        for setting in &db.settings {
            create.push_str(&super::globals::alter_config_command(
                "DATABASE",
                &db.name,
                None,
                setting,
                self.version,
            ));
        }
        for (role, setting) in &db.role_settings {
            create.push_str(&super::globals::alter_config_command(
                "ROLE",
                role,
                Some(("DATABASE", &db.name)),
                setting,
                self.version,
            ));
        }
        if !create.is_empty() {
            let mut e = Entry::new(db.name.clone(), "DATABASE PROPERTIES", None, &db.owner);
            e.create = create;
            e.drop = drop;
            self.push(e);
        }
    }

    fn namespace(&mut self, i: usize) -> Result<()> {
        let ns = &self.catalog.namespaces[i];
        if self
            .sel
            .acl_only
            .contains(&(super::model::catalog_oid::PG_NAMESPACE, ns.oid))
        {
            return super::kinds::extensions::emit_namespace_acl(self, ns);
        }
        if !self.sel.schemas.contains(&ns.oid) {
            return Ok(());
        }
        let q = quote_ident(&ns.name);
        // pg_dump treats `public` as pre-existing unless it was named with -n.
        let is_public = ns.name == "public" && self.opts.schemas.is_empty();
        if is_public && self.version < 150000 {
            return self.public_namespace_before_15(ns, &q);
        }
        let omit_definition = is_public && ns.owned_by_database_owner;
        if !omit_definition {
            let mut e = Entry::new(ns.name.clone(), "SCHEMA", None, &ns.owner);
            if is_public {
                e.create = "-- *not* creating schema, since initdb creates it\n".into();
                e.drop = "-- *not* dropping schema, since initdb creates it\n".into();
            } else {
                e.create = format!("CREATE SCHEMA {q};\n");
                e.drop = format!("DROP SCHEMA {q};\n");
            }
            e.owner_object = Some(format!("SCHEMA {q}"));
            self.push(e);
        }
        let comment = self
            .comment_of(super::model::catalog_oid::PG_NAMESPACE, ns.oid, 0)
            .map(str::to_string);
        match (is_public, comment) {
            (true, None) => self.comment("SCHEMA", &q, None, &ns.owner, ""),
            (true, Some(c)) if c == "standard public schema" => {}
            (_, Some(c)) => self.comment("SCHEMA", &q, None, &ns.owner, &c),
            (false, None) => {}
        }
        super::kinds::seclabels::label(
            self,
            "SCHEMA",
            &q,
            None,
            &ns.owner,
            super::model::catalog_oid::PG_NAMESPACE,
            ns.oid,
            0,
        );
        let base = if is_public {
            let owner = acl_role(&ns.owner);
            vec![format!("{owner}=UC/{owner}"), format!("=U/{owner}")]
        } else {
            ns.acl_default.clone()
        };
        if let Some(acl) = &ns.acl {
            let target = AclTarget {
                kind: "SCHEMA",
                name: &q,
                subname: None,
                namespace: None,
                owner: Some(&ns.owner),
            };
            self.acl(&target, acl, &base, format!("SCHEMA {q}"))?;
        }
        Ok(())
    }

    /// `public` as pg_dump before 15 dumps it (`selectDumpableNamespace` gives it only
    /// the ACL component): no definition, owner or comment, and its ACL diffed against
    /// initdb's privileges from `pg_init_privs` (`{postgres=UC/postgres,=UC/postgres}`
    /// on a fresh database), or `acldefault` when there are none.
    fn public_namespace_before_15(
        &mut self,
        ns: &super::catalog::Namespace,
        q: &str,
    ) -> Result<()> {
        let Some(acl) = &ns.acl else { return Ok(()) };
        let base = ns.init_privs.as_ref().unwrap_or(&ns.acl_default);
        let target = AclTarget {
            kind: "SCHEMA",
            name: q,
            subname: None,
            namespace: None,
            owner: Some(&ns.owner),
        };
        self.acl(&target, acl, base, format!("SCHEMA {q}"))
    }

    fn relation(&mut self, i: usize) -> Result<()> {
        let rel = &self.catalog.relations[i];
        if self
            .sel
            .acl_only
            .contains(&(super::model::catalog_oid::PG_CLASS, rel.oid))
        {
            return super::kinds::extensions::emit_relation_acl(self, rel);
        }
        if !self.sel.tables.contains(&rel.oid) {
            return Ok(());
        }
        let Some(details) = &rel.details else {
            return Ok(());
        };
        match rel.kind {
            b'S' => self.sequence(rel, details)?,
            b'r' | b'v' | b'm' | b'p' | b'f' => self.table(i, rel, details)?,
            _ => {
                return Err(Error::unsupported(format!(
                    "cannot dump relation {} of kind {:?}",
                    qualified(&rel.schema, &rel.name),
                    rel.kind as char
                )))
            }
        }
        let q = quote_ident(&rel.name);
        if let Some(acl) = &rel.acl {
            let kind = if rel.kind == b'S' {
                "SEQUENCE"
            } else {
                "TABLE"
            };
            let target = AclTarget {
                kind,
                name: &q,
                subname: None,
                namespace: Some(&rel.schema),
                owner: Some(&rel.owner),
            };
            self.acl(&target, acl, &rel.acl_default, format!("{kind} {q}"))?;
        }
        for (col, acl) in &details.column_acls {
            let target = AclTarget {
                kind: "TABLE",
                name: &q,
                subname: Some(col),
                namespace: Some(&rel.schema),
                owner: Some(&rel.owner),
            };
            self.acl(&target, acl, &[], format!("COLUMN {q}.{col}"))?;
        }
        Ok(())
    }

    /// The word pg_dump of this server's major uses in `ALTER <word> ... OWNER TO`.
    fn owner_keyword(&self, kind: &'static str) -> &'static str {
        if self.version < 160000 && matches!(kind, "SEQUENCE" | "VIEW" | "MATERIALIZED VIEW") {
            "TABLE"
        } else {
            kind
        }
    }

    fn table(&mut self, i: usize, rel: &Relation, d: &RelDetails) -> Result<()> {
        let qrel = qualified(&rel.schema, &rel.name);
        let (kind, create) = match rel.kind {
            b'v' => ("VIEW", self.view_sql(i, rel, d, &qrel)?),
            b'm' => ("MATERIALIZED VIEW", self.table_sql(i, rel, d, &qrel)?),
            b'f' => ("FOREIGN TABLE", self.table_sql(i, rel, d, &qrel)?),
            _ => ("TABLE", self.table_sql(i, rel, d, &qrel)?),
        };
        let mut e = Entry::new(rel.name.clone(), kind, Some(&rel.schema), &rel.owner);
        e.create = create;
        e.drop = format!("DROP {kind} {qrel};\n");
        e.owner_object = Some(format!("{} {qrel}", self.owner_keyword(kind)));
        // pg_dump before 15 gave foreign tables a tablespace too (`SET default_tablespace`).
        if matches!(rel.kind, b'r' | b'm' | b'p') || (rel.kind == b'f' && self.version < 150000) {
            e.tablespace = Some(rel.tablespace.clone());
        }
        if matches!(rel.kind, b'r' | b'm') {
            e.table_am = rel.access_method.clone();
        }
        // Partitioned tables have an access method from 17 on (for their future
        // partitions); being storage-less, they get it by ALTER TABLE.
        if let (b'p', true, Some(am)) = (rel.kind, self.version >= 170000, &rel.access_method) {
            e.after_owner = format!("ALTER TABLE {qrel} SET ACCESS METHOD {};", quote_ident(am));
        }
        self.push(e);
        let q = quote_ident(&rel.name);
        let table_comment = self
            .comment_of(super::model::catalog_oid::PG_CLASS, rel.oid, 0)
            .map(str::to_string);
        if let Some(c) = table_comment {
            let mut e = Entry::new(
                format!("{kind} {q}"),
                "COMMENT",
                Some(&rel.schema),
                &rel.owner,
            );
            e.create = format!("COMMENT ON {kind} {qrel} IS {};\n", quote_literal(&c));
            if !self.opts.no_comments {
                self.push(e);
            }
        }
        let column_comments: Vec<(i32, String)> = self
            .catalog
            .comments
            .get(&(super::model::catalog_oid::PG_CLASS, rel.oid))
            .map(|v| v.iter().filter(|(s, _)| *s > 0).cloned().collect())
            .unwrap_or_default();
        for (sub, text) in column_comments {
            let Some(col) = d.columns.iter().find(|c| c.num == sub) else {
                continue;
            };
            let qc = quote_ident(&col.name);
            let mut e = Entry::new(
                format!("COLUMN {q}.{qc}"),
                "COMMENT",
                Some(&rel.schema),
                &rel.owner,
            );
            e.create = format!(
                "COMMENT ON COLUMN {qrel}.{qc} IS {};\n",
                quote_literal(&text)
            );
            if !self.opts.no_comments {
                self.push(e);
            }
        }
        super::kinds::seclabels::table_labels(self, rel, d, kind);
        // 18+: comments on NOT NULL constraints (pg_dump 18 prints them after the
        // column comments; NOT VALID ones come with their separate entry).
        for col in &d.columns {
            if let Some((oid, name)) = &col.not_null_con {
                self.constraint_comment(rel, *oid, name);
            }
        }
        // Comments on CHECK constraints written inside CREATE TABLE.
        for (k, check) in d.checks.iter().enumerate() {
            if check.is_local && !self.separate_checks.contains(&(i, k)) {
                self.constraint_comment(rel, check.oid, &check.name);
            }
        }
        Ok(())
    }

    /// The NOT NULL clause of `col` in CREATE TABLE, with its leading space (empty when
    /// the column has no valid NOT NULL constraint). From 18 on, constraints have names:
    /// pg_dump 18 (`determineNotNullFlags`) prints `CONSTRAINT name NOT NULL` unless the
    /// name is the default `<table>_<column>_not_null` (compared untruncated, as pg_dump
    /// does) and the constraint has no comment, then ` NO INHERIT` when set.
    fn not_null_clause(&self, rel: &Relation, col: &Column) -> String {
        if !col.not_null {
            return String::new();
        }
        let mut s = match self.not_null_name(rel, col) {
            Some(name) => format!(" CONSTRAINT {} NOT NULL", quote_ident(name)),
            None => " NOT NULL".to_string(),
        };
        if col.not_null_no_inherit {
            s.push_str(" NO INHERIT");
        }
        s
    }

    /// The name pg_dump 18 gives `col`'s NOT NULL constraint in CREATE TABLE: none
    /// when it is the default `<table>_<column>_not_null` (compared untruncated, as
    /// pg_dump does) and the constraint has no comment.
    fn not_null_name<'c>(&self, rel: &Relation, col: &'c Column) -> Option<&'c str> {
        let (oid, name) = col.not_null_con.as_ref()?;
        let commented = self
            .comment_of(super::model::catalog_oid::PG_CONSTRAINT, *oid, 0)
            .is_some();
        (commented || *name != format!("{}_{}_not_null", rel.name, col.name))
            .then_some(name.as_str())
    }

    /// 18: the table constraint for the own NOT NULL of a column CREATE TABLE does
    /// not print (an inherited one): `NOT NULL col` or `CONSTRAINT name NOT NULL col`.
    /// pg_dump 18 writes the name as it is, without quoting it.
    fn not_null_item(&self, rel: &Relation, col: &Column) -> String {
        let mut s = match self.not_null_name(rel, col) {
            Some(name) => format!("CONSTRAINT {name} NOT NULL {}", quote_ident(&col.name)),
            None => format!("NOT NULL {}", quote_ident(&col.name)),
        };
        if col.not_null_no_inherit {
            s.push_str(" NO INHERIT");
        }
        s
    }

    fn constraint_comment(&mut self, rel: &Relation, con_oid: u32, con_name: &str) {
        let text = self
            .comment_of(super::model::catalog_oid::PG_CONSTRAINT, con_oid, 0)
            .map(str::to_string);
        if let Some(text) = text {
            let kind = format!("CONSTRAINT {} ON", quote_ident(con_name));
            self.comment(
                &kind,
                &quote_ident(&rel.name),
                Some(&rel.schema),
                &rel.owner,
                &text,
            );
        }
    }

    fn view_sql(&self, i: usize, rel: &Relation, d: &RelDetails, qrel: &str) -> Result<String> {
        if self.dummy_views.contains(&i) {
            // Broken out of a dependency loop: the real body comes post-data, in a
            // `_RETURN` RULE entry.
            return Ok(format!("CREATE VIEW {qrel} AS\n{};\n", dummy_view_body(d)));
        }
        Ok(format!("CREATE {}", view_definition(rel, d, qrel)?))
    }

    /// For a view created with a dummy body: `CREATE OR REPLACE VIEW` with the real
    /// body, and with the dummy one (what "dropping" the real body means).
    pub(crate) fn view_bodies(&self, rel: &Relation) -> Result<(String, String)> {
        let qrel = qualified(&rel.schema, &rel.name);
        let d = rel
            .details
            .as_ref()
            .ok_or_else(|| Error::internal(format!("columns of view {qrel} not read")))?;
        Ok((
            format!("CREATE OR REPLACE {}", view_definition(rel, d, &qrel)?),
            format!(
                "CREATE OR REPLACE VIEW {qrel} AS\n{};\n",
                dummy_view_body(d)
            ),
        ))
    }

    fn table_sql(&self, i: usize, rel: &Relation, d: &RelDetails, qrel: &str) -> Result<String> {
        let kind = match rel.kind {
            b'm' => "MATERIALIZED VIEW",
            b'f' => "FOREIGN TABLE",
            _ => "TABLE",
        };
        // PostgreSQL 18 rejects UNLOGGED partitioned tables; pg_dump 18 leaves it out.
        let unlogged = if rel.persistence == b'u' && (rel.kind != b'p' || self.version < 180000) {
            "UNLOGGED "
        } else {
            ""
        };
        let mut s = format!("CREATE {unlogged}{kind} {qrel}");
        if rel.kind != b'm' {
            let mut items: Vec<String> = Vec::new();
            for (c, col) in d.columns.iter().enumerate() {
                // Inherited columns come from INHERITS; partitions print them all.
                if partitions::prints_column(rel, col) {
                    let inline_default = !self.separate_defaults.contains(&(i, c));
                    // An inherited NOT NULL is not repeated, except for partitions.
                    let not_null = if !col.inh_not_null || rel.is_partition {
                        self.not_null_clause(rel, col)
                    } else {
                        String::new()
                    };
                    items.push(column_sql(col, inline_default, &not_null));
                } else if self.version >= 180000
                    && !col.dropped
                    && col.not_null
                    && !col.inh_not_null
                {
                    // 18: the table's own NOT NULL on a column it inherits is a
                    // table constraint (before 18: ALTER ... SET NOT NULL below).
                    items.push(self.not_null_item(rel, col));
                }
            }
            // Partitions repeat inherited CHECKs: ATTACH PARTITION requires them.
            let inline = |(k, c): &(usize, &super::catalog::Check)| {
                (c.is_local || rel.is_partition) && !self.separate_checks.contains(&(i, *k))
            };
            for (_, check) in d.checks.iter().enumerate().filter(inline) {
                items.push(format!(
                    "CONSTRAINT {} {}",
                    quote_ident(&check.name),
                    check.def
                ));
            }
            if items.is_empty() {
                s.push_str(" (\n)");
            } else {
                s.push_str(" (\n    ");
                s.push_str(&items.join(",\n    "));
                s.push_str("\n)");
            }
            s.push_str(&partitions::inherits_clause(self.catalog, rel, d));
            s.push_str(&super::kinds::foreign::server_clause(self.catalog, rel.oid));
        }
        if !rel.reloptions.is_empty() || !rel.toast_reloptions.is_empty() {
            let mut opts = Vec::new();
            if !rel.reloptions.is_empty() {
                opts.push(reloptions(&rel.reloptions, ""));
            }
            if !rel.toast_reloptions.is_empty() {
                opts.push(reloptions(&rel.toast_reloptions, "toast."));
            }
            s.push_str(&format!("\nWITH ({})", opts.join(", ")));
        }
        s.push_str(&super::kinds::foreign::options_clause(
            self.catalog,
            rel.oid,
        ));
        if rel.kind == b'm' {
            s.push_str(&format!(" AS\n{}\n  WITH NO DATA;\n", view_body(rel, d)?));
            s.push_str(&super::kinds::extensions::depends_on_extension(
                self.catalog,
                self.version,
                super::model::catalog_oid::PG_CLASS,
                rel.oid,
                "MATERIALIZED VIEW",
                qrel,
            ));
        } else {
            s.push_str(";\n");
        }
        for col in d.columns.iter().filter(|c| !c.dropped) {
            // A NOT NULL not inherited on a column CREATE TABLE did not print (18 has
            // it in CREATE TABLE).
            if self.version < 180000
                && !partitions::prints_column(rel, col)
                && col.not_null
                && !col.inh_not_null
            {
                let qc = quote_ident(&col.name);
                let foreign = if rel.kind == b'f' { "FOREIGN " } else { "" };
                s.push_str(&format!(
                    "ALTER {foreign}TABLE ONLY {qrel} ALTER COLUMN {qc} SET NOT NULL;\n"
                ));
            }
            s.push_str(&column_alters(col, qrel, rel.kind == b'f', self.opts));
            s.push_str(&super::kinds::foreign::column_options(
                self.catalog,
                self.version,
                rel.oid,
                qrel,
                col.num,
                &quote_ident(&col.name),
            ));
        }
        // Foreign tables and views have no replica identity to restore.
        let replident = if matches!(rel.kind, b'r' | b'p' | b'm') {
            rel.replident
        } else {
            b'd'
        };
        match replident {
            b'n' => s.push_str(&format!(
                "\nALTER TABLE ONLY {qrel} REPLICA IDENTITY NOTHING;\n"
            )),
            b'f' => s.push_str(&format!(
                "\nALTER TABLE ONLY {qrel} REPLICA IDENTITY FULL;\n"
            )),
            _ => {}
        }
        if rel.force_rls {
            s.push_str(&format!(
                "\nALTER TABLE ONLY {qrel} FORCE ROW LEVEL SECURITY;\n"
            ));
        }
        Ok(s)
    }

    fn sequence(&mut self, rel: &Relation, d: &RelDetails) -> Result<()> {
        let qseq = qualified(&rel.schema, &rel.name);
        let seq = d
            .sequence
            .as_ref()
            .ok_or_else(|| Error::internal(format!("sequence {qseq} has no pg_sequence row")))?;
        let ascending = seq.increment >= 0;
        let (min_default, max_default) = match seq.type_name.as_str() {
            "smallint" => sequence_bounds(i64::from(i16::MIN), i64::from(i16::MAX), ascending),
            "integer" => sequence_bounds(i64::from(i32::MIN), i64::from(i32::MAX), ascending),
            "bigint" => sequence_bounds(i64::MIN, i64::MAX, ascending),
            other => {
                return Err(Error::unsupported(format!(
                    "unrecognized sequence type {other} of {qseq}"
                )))
            }
        };
        let identity = rel.owned_by.filter(|o| o.2);
        let mut s = String::new();
        let mut drop = String::new();
        if let Some((tab, col, _)) = identity {
            let (owner, column) = self.owning_column(tab, col)?;
            let kind = match column.identity {
                b'a' => "ALWAYS",
                _ => "BY DEFAULT",
            };
            s.push_str(&format!(
                "ALTER TABLE {} ALTER COLUMN {} ADD GENERATED {kind} AS IDENTITY (\n    SEQUENCE NAME {qseq}\n",
                qualified(&owner.schema, &owner.name),
                quote_ident(&column.name)
            ));
            // The sequence's persistence is only stated when it differs from the table's
            // (pg_dump 15+; before 15 sequences are always logged, and pg_dump 14 never
            // says so even for an unlogged table's identity).
            if self.version >= 150000 && rel.persistence != owner.persistence {
                s.push_str(if rel.persistence == b'u' {
                    "    UNLOGGED\n"
                } else {
                    "    LOGGED\n"
                });
            }
        } else {
            drop = format!("DROP SEQUENCE {qseq};\n");
            let unlogged = if rel.persistence == b'u' {
                "UNLOGGED "
            } else {
                ""
            };
            s.push_str(&format!("CREATE {unlogged}SEQUENCE {qseq}\n"));
            if seq.type_name != "bigint" {
                s.push_str(&format!("    AS {}\n", seq.type_name));
            }
        }
        s.push_str(&format!("    START WITH {}\n", seq.start));
        s.push_str(&format!("    INCREMENT BY {}\n", seq.increment));
        if seq.min == min_default {
            s.push_str("    NO MINVALUE\n");
        } else {
            s.push_str(&format!("    MINVALUE {}\n", seq.min));
        }
        if seq.max == max_default {
            s.push_str("    NO MAXVALUE\n");
        } else {
            s.push_str(&format!("    MAXVALUE {}\n", seq.max));
        }
        s.push_str(&format!("    CACHE {}", seq.cache));
        if seq.cycle {
            s.push_str("\n    CYCLE");
        }
        s.push_str(if identity.is_some() { "\n);\n" } else { ";\n" });
        let mut e = Entry::new(rel.name.clone(), "SEQUENCE", Some(&rel.schema), &rel.owner);
        e.create = s;
        e.owner_object = Some(format!("{} {qseq}", self.owner_keyword("SEQUENCE")));
        e.drop = drop;
        self.push(e);
        if let Some((tab, col, false)) = rel.owned_by {
            // OWNED BY only when the owning table is dumped too.
            if self.sel.tables.contains(&tab) {
                let (owner, column) = self.owning_column(tab, col)?;
                let mut e = Entry::new(
                    rel.name.clone(),
                    "SEQUENCE OWNED BY",
                    Some(&rel.schema),
                    &rel.owner,
                );
                e.create = format!(
                    "ALTER SEQUENCE {qseq} OWNED BY {}.{};\n",
                    qualified(&owner.schema, &owner.name),
                    quote_ident(&column.name)
                );
                self.push(e);
            }
        }
        let comment = self
            .comment_of(super::model::catalog_oid::PG_CLASS, rel.oid, 0)
            .map(str::to_string);
        if let Some(c) = comment {
            self.comment(
                "SEQUENCE",
                &quote_ident(&rel.name),
                Some(&rel.schema),
                &rel.owner,
                &c,
            );
        }
        super::kinds::seclabels::label(
            self,
            "SEQUENCE",
            &quote_ident(&rel.name),
            Some(&rel.schema),
            &rel.owner,
            super::model::catalog_oid::PG_CLASS,
            rel.oid,
            0,
        );
        Ok(())
    }

    fn owning_column(&self, table: u32, col: i32) -> Result<(&Relation, &Column)> {
        let owner = self
            .catalog
            .relations
            .iter()
            .find(|r| r.oid == table)
            .ok_or_else(|| Error::internal(format!("owning table {table} not found")))?;
        let column = owner
            .details
            .as_ref()
            .and_then(|d| d.columns.iter().find(|c| c.num == col))
            .ok_or_else(|| {
                Error::internal(format!(
                    "column {col} of owning table {} not read",
                    qualified(&owner.schema, &owner.name)
                ))
            })?;
        Ok((owner, column))
    }

    /// Relation `table` and its details, when its definition is dumped: the pieces
    /// written apart from CREATE TABLE (defaults, constraints, indexes) need both.
    fn dumped_table(&self, table: usize) -> Option<(&'a Relation, &'a RelDetails)> {
        let catalog: &'a Catalog = self.catalog;
        let rel = &catalog.relations[table];
        if !self.sel.tables.contains(&rel.oid) {
            return None;
        }
        Some((rel, rel.details.as_ref()?))
    }

    fn separate_default(&mut self, table: usize, col: usize) {
        let Some((rel, d)) = self.dumped_table(table) else {
            return;
        };
        let column = &d.columns[col];
        let Some((_, expr)) = &column.default else {
            return;
        };
        let qrel = qualified(&rel.schema, &rel.name);
        let qc = quote_ident(&column.name);
        let mut e = Entry::new(
            format!("{} {}", rel.name, column.name),
            "DEFAULT",
            Some(&rel.schema),
            &rel.owner,
        );
        e.create = format!("ALTER TABLE ONLY {qrel} ALTER COLUMN {qc} SET DEFAULT {expr};\n");
        e.drop = format!("ALTER TABLE {qrel} ALTER COLUMN {qc} DROP DEFAULT;\n");
        self.push(e);
    }

    fn separate_check(&mut self, table: usize, check: usize) {
        let Some((rel, d)) = self.dumped_table(table) else {
            return;
        };
        let c = &d.checks[check];
        if !c.is_local {
            return;
        }
        let qrel = qualified(&rel.schema, &rel.name);
        let qc = quote_ident(&c.name);
        // 18+: a NOT VALID NOT NULL constraint is a plain "CONSTRAINT".
        let desc = if c.not_null {
            "CONSTRAINT"
        } else {
            "CHECK CONSTRAINT"
        };
        let mut e = Entry::new(
            format!("{} {}", rel.name, c.name),
            desc,
            Some(&rel.schema),
            &rel.owner,
        );
        e.create = format!("ALTER TABLE {qrel}\n    ADD CONSTRAINT {qc} {};\n", c.def);
        e.drop = format!("ALTER TABLE {qrel} DROP CONSTRAINT {qc};\n");
        self.push(e);
        self.constraint_comment(rel, c.oid, &c.name);
    }

    fn index_constraint(&mut self, table: usize, index: usize) {
        let Some((rel, d)) = self.dumped_table(table) else {
            return;
        };
        let idx = &d.indexes[index];
        let Some(con) = &idx.constraint else { return };
        let qrel = qualified(&rel.schema, &rel.name);
        let qc = quote_ident(&con.name);
        let mut s = format!("ALTER TABLE ONLY {qrel}\n    ADD CONSTRAINT {qc} ");
        if con.kind == b'x' {
            s.push_str(&format!("{};\n", con.def));
        } else {
            s.push_str(if con.kind == b'p' {
                "PRIMARY KEY"
            } else {
                "UNIQUE"
            });
            if idx.nulls_not_distinct {
                s.push_str(" NULLS NOT DISTINCT");
            }
            let name_of = |k: &i32| {
                d.columns
                    .iter()
                    .find(|c| c.num == *k)
                    .map(|c| quote_ident(&c.name))
                    .unwrap_or_default()
            };
            let keys: Vec<String> = idx.keys[..idx.key_atts].iter().map(name_of).collect();
            s.push_str(&format!(" ({}", keys.join(", ")));
            if con.period {
                s.push_str(" WITHOUT OVERLAPS");
            }
            if idx.key_atts < idx.keys.len() {
                let incl: Vec<String> = idx.keys[idx.key_atts..].iter().map(name_of).collect();
                s.push_str(&format!(") INCLUDE ({}", incl.join(", ")));
            }
            s.push(')');
            if !idx.reloptions.is_empty() {
                s.push_str(&format!(" WITH ({})", reloptions(&idx.reloptions, "")));
            }
            if con.deferrable {
                s.push_str(" DEFERRABLE");
                if con.deferred {
                    s.push_str(" INITIALLY DEFERRED");
                }
            }
            s.push_str(";\n");
        }
        s.push_str(&index_alters(idx, &qrel));
        s.push_str(&super::kinds::extensions::depends_on_extension(
            self.catalog,
            self.version,
            super::model::catalog_oid::PG_CLASS,
            idx.oid,
            "INDEX",
            &qualified(&rel.schema, &idx.name),
        ));
        let mut e = Entry::new(
            format!("{} {}", rel.name, con.name),
            "CONSTRAINT",
            Some(&rel.schema),
            &rel.owner,
        );
        e.tablespace = Some(idx.tablespace.clone());
        e.create = s;
        e.drop = format!("ALTER TABLE ONLY {qrel} DROP CONSTRAINT {qc};\n");
        self.push(e);
        self.constraint_comment(rel, con.oid, &con.name);
    }

    fn index(&mut self, table: usize, index: usize) {
        let Some((rel, d)) = self.dumped_table(table) else {
            return;
        };
        let idx = &d.indexes[index];
        let qidx = quote_ident(&idx.name);
        let qqidx = qualified(&rel.schema, &idx.name);
        if idx.constraint.is_none() {
            let qrel = qualified(&rel.schema, &rel.name);
            let mut s = format!("{};\n", idx.def);
            if idx.clustered {
                s.push_str(&format!("\nALTER TABLE {qrel} CLUSTER ON {qidx};\n"));
            }
            for (col, target) in &idx.stat_targets {
                s.push_str(&format!(
                    "ALTER INDEX {qqidx} ALTER COLUMN {col} SET STATISTICS {target};\n"
                ));
            }
            s.push_str(&super::kinds::extensions::depends_on_extension(
                self.catalog,
                self.version,
                super::model::catalog_oid::PG_CLASS,
                idx.oid,
                "INDEX",
                &qqidx,
            ));
            if idx.replident {
                s.push_str(&format!(
                    "\nALTER TABLE ONLY {qrel} REPLICA IDENTITY USING INDEX {qidx};\n"
                ));
            }
            let mut e = Entry::new(idx.name.clone(), "INDEX", Some(&rel.schema), &rel.owner);
            e.tablespace = Some(idx.tablespace.clone());
            e.create = s;
            // An index attached to a partitioned index cannot be dropped on its
            // own; it goes with its table or the partitioned index.
            if idx.parent_idx == 0 {
                e.drop = format!("DROP INDEX {qqidx};\n");
            }
            self.push(e);
        }
        let text = self
            .comment_of(super::model::catalog_oid::PG_CLASS, idx.oid, 0)
            .map(str::to_string);
        if let Some(text) = text {
            self.comment("INDEX", &qidx, Some(&rel.schema), &rel.owner, &text);
        }
    }

    fn foreign_key(&mut self, table: usize, fk: usize) {
        let Some((rel, d)) = self.dumped_table(table) else {
            return;
        };
        let f = &d.fks[fk];
        let qrel = qualified(&rel.schema, &rel.name);
        let only = if rel.kind == b'p' { "" } else { "ONLY " };
        let qc = quote_ident(&f.name);
        let mut e = Entry::new(
            format!("{} {}", rel.name, f.name),
            "FK CONSTRAINT",
            Some(&rel.schema),
            &rel.owner,
        );
        e.create = format!(
            "ALTER TABLE {only}{qrel}\n    ADD CONSTRAINT {qc} {};\n",
            f.def
        );
        e.drop = format!("ALTER TABLE {only}{qrel} DROP CONSTRAINT {qc};\n");
        self.push(e);
        self.constraint_comment(rel, f.oid, &f.name);
    }

    fn table_data(&mut self, i: usize) {
        let rel = &self.catalog.relations[i];
        let Some(d) = &rel.details else { return };
        let qrel = qualified(&rel.schema, &rel.name);
        let cols: Vec<String> = d
            .columns
            .iter()
            .filter(|c| !c.dropped && c.generated == 0)
            .map(|c| quote_ident(&c.name))
            .collect();
        let list = if cols.is_empty() {
            String::new()
        } else {
            format!("({})", cols.join(", "))
        };
        let mut e = Entry::new(
            rel.name.clone(),
            "TABLE DATA",
            Some(&rel.schema),
            &rel.owner,
        );
        e.is_data = true;
        // Extension configuration tables are filtered by the extension's condition.
        let copy_to = match self.sel.config_tables.get(&rel.oid) {
            Some(cond) if !cond.is_empty() => {
                let select = if cols.is_empty() {
                    "*".to_string()
                } else {
                    cols.join(", ")
                };
                format!("COPY (SELECT {select} FROM {qrel} {cond}) TO stdout")
            }
            _ => format!("COPY {qrel} {list} TO stdout"),
        };
        // Partitions of an unsafe partitioning scheme load through the root (the
        // comment is the entry's definition, printed before the COPY).
        let copy_from = match partitions::load_via_root(self.catalog, rel) {
            Some(root) => {
                let qroot = qualified(&root.schema, &root.name);
                format!("-- load via partition root {qroot}\n\nCOPY {qroot} {list} FROM stdin;\n")
            }
            None => format!("COPY {qrel} {list} FROM stdin;\n"),
        };
        e.copy = Some(CopySpec {
            copy_from,
            copy_to,
            estimated_bytes: i64::from(rel.pages) * 8192,
        });
        self.push(e);
    }

    fn sequence_set(&mut self, i: usize) {
        let rel = &self.catalog.relations[i];
        let Some(seq) = rel.details.as_ref().and_then(|d| d.sequence.as_ref()) else {
            return;
        };
        let qseq = qualified(&rel.schema, &rel.name);
        let mut e = Entry::new(
            rel.name.clone(),
            "SEQUENCE SET",
            Some(&rel.schema),
            &rel.owner,
        );
        e.is_data = true;
        e.create = format!(
            "SELECT pg_catalog.setval({}, {}, {});\n",
            quote_literal(&qseq),
            seq.last_value,
            seq.is_called
        );
        self.push(e);
    }

    fn refresh(&mut self, i: usize) {
        let rel = &self.catalog.relations[i];
        if !rel.is_populated {
            return;
        }
        let mut e = Entry::new(
            rel.name.clone(),
            "MATERIALIZED VIEW DATA",
            Some(&rel.schema),
            &rel.owner,
        );
        e.create = format!(
            "REFRESH MATERIALIZED VIEW {};\n",
            qualified(&rel.schema, &rel.name)
        );
        self.push(e);
    }
}

/// A column inside CREATE TABLE; `not_null` is its NOT NULL clause (empty for none,
/// see [`Emitter::not_null_clause`]).
fn column_sql(col: &Column, inline_default: bool, not_null: &str) -> String {
    let mut s = format!("{} {}", quote_ident(&col.name), col.type_name);
    if let Some((_, expr)) = col.default.as_ref().filter(|_| inline_default) {
        match col.generated {
            b's' => s.push_str(&format!(" GENERATED ALWAYS AS ({expr}) STORED")),
            // 18+: virtual generated columns.
            b'v' => s.push_str(&format!(" GENERATED ALWAYS AS ({expr})")),
            _ => s.push_str(&format!(" DEFAULT {expr}")),
        }
    }
    s.push_str(not_null);
    if let Some(coll) = &col.collation {
        s.push_str(&format!(" COLLATE {coll}"));
    }
    s
}

/// Per-column settings that only have ALTER TABLE syntax.
fn column_alters(col: &Column, qrel: &str, foreign: bool, _opts: &DumpOptions) -> String {
    let qc = quote_ident(&col.name);
    let alter = if foreign {
        "ALTER FOREIGN TABLE ONLY"
    } else {
        "ALTER TABLE ONLY"
    };
    let mut s = String::new();
    if let Some(target) = col.stat_target {
        s.push_str(&format!(
            "{alter} {qrel} ALTER COLUMN {qc} SET STATISTICS {target};\n"
        ));
    }
    if col.storage != col.type_storage {
        let storage = match col.storage {
            b'p' => Some("PLAIN"),
            b'e' => Some("EXTERNAL"),
            b'x' => Some("EXTENDED"),
            b'm' => Some("MAIN"),
            _ => None,
        };
        if let Some(storage) = storage {
            s.push_str(&format!(
                "{alter} {qrel} ALTER COLUMN {qc} SET STORAGE {storage};\n"
            ));
        }
    }
    let compression = match col.compression {
        b'p' => Some("pglz"),
        b'l' => Some("lz4"),
        _ => None,
    };
    if let Some(c) = compression {
        s.push_str(&format!(
            "{alter} {qrel} ALTER COLUMN {qc} SET COMPRESSION {c};\n"
        ));
    }
    if !col.options.is_empty() {
        s.push_str(&format!(
            "{alter} {qrel} ALTER COLUMN {qc} SET ({});\n",
            col.options
        ));
    }
    s
}

/// ALTER statements that follow an index or index-backed constraint.
fn index_alters(idx: &super::catalog::Index, qrel: &str) -> String {
    let qidx = quote_ident(&idx.name);
    let mut s = String::new();
    if idx.clustered {
        s.push_str(&format!("\nALTER TABLE {qrel} CLUSTER ON {qidx};\n"));
    }
    if idx.replident {
        s.push_str(&format!(
            "\nALTER TABLE ONLY {qrel} REPLICA IDENTITY USING INDEX {qidx};\n"
        ));
    }
    s
}

/// `VIEW q [WITH (...)] AS <body> [WITH ... CHECK OPTION];`
fn view_definition(rel: &Relation, d: &RelDetails, qrel: &str) -> Result<String> {
    let mut s = format!("VIEW {qrel}");
    if !rel.reloptions.is_empty() {
        s.push_str(&format!(" WITH ({})", reloptions(&rel.reloptions, "")));
    }
    s.push_str(&format!(" AS\n{}", view_body(rel, d)?));
    if let Some(opt) = &rel.check_option {
        s.push_str(&format!("\n  WITH {opt} CHECK OPTION"));
    }
    s.push_str(";\n");
    Ok(s)
}

/// A view body with the view's column names, types and collations and no
/// dependencies: `SELECT NULL::type AS col, ...`.
fn dummy_view_body(d: &RelDetails) -> String {
    let mut s = String::from("SELECT");
    for (k, col) in d.columns.iter().filter(|c| !c.dropped).enumerate() {
        if k > 0 {
            s.push(',');
        }
        s.push_str(&format!("\n    NULL::{}", col.type_name));
        if let Some(coll) = &col.collation {
            s.push_str(&format!(" COLLATE {coll}"));
        }
        s.push_str(&format!(" AS {}", quote_ident(&col.name)));
    }
    s
}

fn view_body(rel: &Relation, d: &RelDetails) -> Result<String> {
    let def = d.view_def.as_deref().unwrap_or("");
    let def = def.strip_suffix(';').unwrap_or(def);
    if def.is_empty() {
        return Err(Error::internal(format!(
            "definition of view {} is empty",
            qualified(&rel.schema, &rel.name)
        )));
    }
    Ok(def.to_string())
}

/// `name='value', ...` as pg_dump writes reloptions (values always quoted).
fn reloptions(items: &[String], prefix: &str) -> String {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((name, value)) => {
                format!("{prefix}{}={}", quote_ident(name), quote_literal(value))
            }
            None => format!("{prefix}{}", quote_ident(item)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Defaults of a sequence of a type, depending on its direction.
fn sequence_bounds(type_min: i64, type_max: i64, ascending: bool) -> (i64, i64) {
    if ascending {
        (1, type_max)
    } else {
        (type_min, -1)
    }
}

/// A role name as it appears inside an aclitem (double-quoted when needed).
fn acl_role(name: &str) -> String {
    if name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}
