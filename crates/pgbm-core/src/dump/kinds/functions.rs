//! Functions, procedures and aggregates (`pg_proc`), and the kinds built on
//! functions that have no schema: procedural languages, casts and transforms.
//!
//! Everything is read after the tables are locked, in one query per catalog, with the
//! server's deparse functions (`pg_get_function_arguments`, `pg_get_function_result`,
//! `pg_get_function_sqlbody`, `::regproc`, `format_type`) evaluated for every row at
//! once where pg_dump prepares one query per object.
//!
//! Which rows are read follows pg_dump's `getFuncs`/`getAggregates`: everything outside
//! the system schemas (except functions that are internal parts of another object, such
//! as range constructors), plus `pg_catalog` functions whose privileges differ from
//! their initial ones (only their ACL is dumped).

use super::KindPayload;
use crate::dump::catalog::{byte, oid, query, text_array, Catalog};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{catalog_oid, Graph, Obj, ObjKind, Payload, Tiebreak};
use crate::dump::select::Selection;
use crate::error::Result;
use crate::sql::{dollar_quote, qualified, quote_ident, quote_literal, AclTarget};
use tokio_postgres::{Client, Row};

/// Objects with OIDs below this were created by initdb (`FirstNormalObjectId`).
pub(crate) const FIRST_NORMAL_OID: u32 = 16384;

/// What of an object a dump contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Nothing (it only takes part in ordering).
    None,
    /// Only its privileges (system objects and extension members).
    AclOnly,
    /// Definition, comment and privileges.
    Full,
}

/// A function, procedure or aggregate.
#[derive(Debug, Clone)]
pub(crate) struct Function {
    pub oid: u32,
    pub nsp_oid: u32,
    pub schema: String,
    pub name: String,
    pub owner: String,
    /// `prokind`: `f`unction, `p`rocedure, `w`indow function or `a`ggregate.
    pub kind: u8,
    /// The owning extension, for extension members.
    pub ext_oid: Option<u32>,
    pub acl: Option<Vec<String>>,
    pub acl_default: Vec<String>,
    pub init_privs: Option<Vec<String>>,
    /// `format_type` of each input argument type.
    pub arg_types: Vec<String>,
    /// (schema, name) of each input argument type, pg_dump's sort tie-break.
    pub arg_sort: Vec<(String, String)>,
    /// `pg_get_function_arguments`.
    pub args: String,
    /// `pg_get_function_identity_arguments`.
    pub identity_args: String,
    /// `pg_get_function_result` (None for procedures).
    pub result: Option<String>,
    /// `pg_get_function_sqlbody` (SQL-standard bodies, 14+).
    pub sql_body: Option<String>,
    pub src: String,
    pub bin: String,
    pub volatile: u8,
    pub strict: bool,
    pub security_definer: bool,
    pub leakproof: bool,
    /// `proconfig` items, `name=value`.
    pub config: Vec<String>,
    /// `procost` and `prorows` as the server prints them.
    pub cost: String,
    pub rows: String,
    pub returns_set: bool,
    /// `format_type` of each `protrftypes` entry.
    pub transform_types: Vec<String>,
    pub parallel: u8,
    /// `prosupport::regproc`, `-` for none.
    pub support: String,
    pub language: String,
    /// For aggregates, the `pg_aggregate` row.
    pub agg: Option<Aggregate>,
}

/// The `pg_aggregate` part of an aggregate, functions and types as the server's
/// `regproc`/`regtype` output prints them (`-` for none).
#[derive(Debug, Clone)]
pub(crate) struct Aggregate {
    pub kind: u8,
    pub transfn: String,
    pub finalfn: String,
    pub combinefn: String,
    pub serialfn: String,
    pub deserialfn: String,
    pub mtransfn: String,
    pub minvtransfn: String,
    pub mfinalfn: String,
    pub final_extra: bool,
    pub mfinal_extra: bool,
    pub final_modify: u8,
    pub mfinal_modify: u8,
    pub transtype: String,
    pub transspace: i32,
    pub mtranstype: String,
    pub mtransspace: i32,
    pub initval: Option<String>,
    pub minitval: Option<String>,
    /// Sort operator as (schema, operator name).
    pub sortop: Option<(String, String)>,
}

/// A procedural language.
#[derive(Debug, Clone)]
pub(crate) struct Language {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    pub trusted: bool,
    pub handler: u32,
    pub inline: u32,
    pub validator: u32,
    pub ext_oid: Option<u32>,
    pub acl: Option<Vec<String>>,
    pub acl_default: Vec<String>,
    pub init_privs: Option<Vec<String>>,
}

/// A cast.
#[derive(Debug, Clone)]
pub(crate) struct Cast {
    pub oid: u32,
    /// `typname` of source and target, joined by a space: pg_dump's sort name.
    pub sort_name: String,
    pub source: String,
    pub target: String,
    /// `WITH FUNCTION` signature: qualified name and `format_type` of its arguments.
    pub function: Option<String>,
    pub context: u8,
    pub method: u8,
    pub ext_member: bool,
}

/// A transform.
#[derive(Debug, Clone)]
pub(crate) struct Transform {
    pub oid: u32,
    pub sort_name: String,
    pub type_name: String,
    /// The language name, quoted.
    pub language: String,
    pub from_sql: Option<String>,
    pub to_sql: Option<String>,
    pub ext_member: bool,
}

/// The rows read from the catalog.
#[derive(Debug, Default)]
pub(crate) struct Functions {
    pub funcs: Vec<Function>,
    pub langs: Vec<Language>,
    pub casts: Vec<Cast>,
    pub transforms: Vec<Transform>,
}

/// Which object of this module a graph object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Func(usize),
    Lang(usize),
    Cast(usize),
    Transform(usize),
}

/// Reads functions, aggregates, languages, casts and transforms (after the locks).
pub(crate) async fn read(client: &Client, version: i32, catalog: &mut Catalog) -> Result<()> {
    read_functions(client, version, catalog).await?;
    read_languages(client, catalog).await?;
    read_casts(client, version, catalog).await?;
    read_transforms(client, catalog).await?;
    Ok(())
}

/// `ARRAY(SELECT <expr> FROM <oid array> ...)` in array order, `<expr>` over the type
/// row `ty` and its schema `tn` (NULL when the OID names no type).
fn per_type(array: &str, expr: &str) -> String {
    format!(
        "ARRAY(SELECT {expr} FROM pg_catalog.unnest({array}) WITH ORDINALITY AS a(t, i) \
         LEFT JOIN pg_catalog.pg_type ty ON ty.oid = a.t \
         LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = ty.typnamespace ORDER BY a.i)"
    )
}

/// `f.ext_oid`-style subquery: the extension an object of catalog `cat` belongs to.
pub(crate) fn ext_of(cat: &str, oid_expr: &str) -> String {
    format!(
        "(SELECT d.refobjid FROM pg_catalog.pg_depend d \
          WHERE d.classid = '{cat}'::pg_catalog.regclass AND d.objid = {oid_expr} \
          AND d.deptype = 'e' LIMIT 1)"
    )
}

async fn read_functions(client: &Client, version: i32, catalog: &mut Catalog) -> Result<()> {
    let sql_body = if version >= 140000 {
        "pg_catalog.pg_get_function_sqlbody(p.oid)"
    } else {
        "NULL::text"
    };
    let args = "p.proargtypes::pg_catalog.oid[]";
    let sql = format!(
        "SELECT p.oid, p.proname, p.pronamespace, n.nspname, \
         pg_catalog.pg_get_userbyid(p.proowner) AS owner, p.prokind, \
         p.proacl::text[] AS acl, pg_catalog.acldefault('f', p.proowner)::text[] AS acldefault, \
         pip.initprivs::text[] AS initprivs, {ext} AS extoid, \
         {argtypes} AS argtypes, {argnsps} AS argnsps, {argnames} AS argnames, \
         pg_catalog.pg_get_function_arguments(p.oid) AS funcargs, \
         pg_catalog.pg_get_function_identity_arguments(p.oid) AS funciargs, \
         pg_catalog.pg_get_function_result(p.oid) AS funcresult, {sql_body} AS prosqlbody, \
         p.prosrc, p.probin, p.provolatile, p.proisstrict, p.prosecdef, p.proleakproof, \
         p.proconfig, p.procost::text AS procost, p.prorows::text AS prorows, p.proretset, \
         {trftypes} AS trftypes, p.proparallel, p.prosupport::text AS prosupport, l.lanname, \
         a.aggkind, a.aggtransfn::text AS aggtransfn, a.aggfinalfn::text AS aggfinalfn, \
         a.aggcombinefn::text AS aggcombinefn, a.aggserialfn::text AS aggserialfn, \
         a.aggdeserialfn::text AS aggdeserialfn, a.aggmtransfn::text AS aggmtransfn, \
         a.aggminvtransfn::text AS aggminvtransfn, a.aggmfinalfn::text AS aggmfinalfn, \
         a.aggfinalextra, a.aggmfinalextra, a.aggfinalmodify, a.aggmfinalmodify, \
         a.aggtranstype::pg_catalog.regtype::text AS aggtranstype, a.aggtransspace, \
         a.aggmtranstype::pg_catalog.regtype::text AS aggmtranstype, a.aggmtransspace, \
         a.agginitval, a.aggminitval, so.oprname::text AS sortopname, son.nspname AS sortopnsp \
         FROM pg_catalog.pg_proc p \
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         LEFT JOIN pg_catalog.pg_init_privs pip ON pip.objoid = p.oid \
              AND pip.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND pip.objsubid = 0 \
         LEFT JOIN pg_catalog.pg_language l ON l.oid = p.prolang \
         LEFT JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid \
         LEFT JOIN pg_catalog.pg_operator so ON so.oid = a.aggsortop \
         LEFT JOIN pg_catalog.pg_namespace son ON son.oid = so.oprnamespace \
         WHERE (p.prokind = 'a' OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass \
                AND d.objid = p.oid AND d.deptype = 'i')) \
         AND ((n.nspname !~ '^pg_' AND n.nspname <> 'information_schema') \
              OR (n.nspname = 'pg_catalog' AND p.proacl IS DISTINCT FROM pip.initprivs)) \
         ORDER BY p.oid",
        ext = ext_of("pg_catalog.pg_proc", "p.oid"),
        argtypes = per_type(args, "pg_catalog.format_type(a.t, NULL)"),
        argnsps = per_type(args, "COALESCE(tn.nspname::text, '')"),
        argnames = per_type(args, "COALESCE(ty.typname::text, '')"),
        trftypes = per_type("p.protrftypes", "pg_catalog.format_type(a.t, NULL)"),
    );
    for row in query(client, "functions", &sql, &[]).await? {
        catalog.kinds.functions.funcs.push(function_row(&row));
    }
    Ok(())
}

fn opt_byte(row: &Row, col: &str) -> u8 {
    row.get::<_, Option<i8>>(col).map_or(0, |v| v as u8)
}

fn function_row(row: &Row) -> Function {
    let nsps = text_array(row, "argnsps");
    let names = text_array(row, "argnames");
    let agg = row.get::<_, Option<i8>>("aggkind").map(|kind| Aggregate {
        kind: kind as u8,
        transfn: row.get("aggtransfn"),
        finalfn: row.get("aggfinalfn"),
        combinefn: row.get("aggcombinefn"),
        serialfn: row.get("aggserialfn"),
        deserialfn: row.get("aggdeserialfn"),
        mtransfn: row.get("aggmtransfn"),
        minvtransfn: row.get("aggminvtransfn"),
        mfinalfn: row.get("aggmfinalfn"),
        final_extra: row.get("aggfinalextra"),
        mfinal_extra: row.get("aggmfinalextra"),
        final_modify: opt_byte(row, "aggfinalmodify"),
        mfinal_modify: opt_byte(row, "aggmfinalmodify"),
        transtype: row.get("aggtranstype"),
        transspace: row.get("aggtransspace"),
        mtranstype: row.get("aggmtranstype"),
        mtransspace: row.get("aggmtransspace"),
        initval: row.get("agginitval"),
        minitval: row.get("aggminitval"),
        sortop: row
            .get::<_, Option<String>>("sortopname")
            .map(|name| (row.get("sortopnsp"), name)),
    });
    Function {
        oid: oid(row, "oid"),
        nsp_oid: oid(row, "pronamespace"),
        schema: row.get("nspname"),
        name: row.get("proname"),
        owner: row.get("owner"),
        kind: byte(row, "prokind"),
        ext_oid: row.get("extoid"),
        acl: row.get("acl"),
        acl_default: text_array(row, "acldefault"),
        init_privs: row.get("initprivs"),
        arg_types: text_array(row, "argtypes"),
        arg_sort: nsps.into_iter().zip(names).collect(),
        args: row.get("funcargs"),
        identity_args: row.get("funciargs"),
        result: row.get("funcresult"),
        sql_body: row.get("prosqlbody"),
        src: row.get::<_, Option<String>>("prosrc").unwrap_or_default(),
        bin: row.get::<_, Option<String>>("probin").unwrap_or_default(),
        volatile: byte(row, "provolatile"),
        strict: row.get("proisstrict"),
        security_definer: row.get("prosecdef"),
        leakproof: row.get("proleakproof"),
        config: text_array(row, "proconfig"),
        cost: row.get("procost"),
        rows: row.get("prorows"),
        returns_set: row.get("proretset"),
        transform_types: text_array(row, "trftypes"),
        parallel: byte(row, "proparallel"),
        support: row.get("prosupport"),
        language: row.get::<_, Option<String>>("lanname").unwrap_or_default(),
        agg,
    }
}

async fn read_languages(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let sql = format!(
        "SELECT l.oid, l.lanname, pg_catalog.pg_get_userbyid(l.lanowner) AS owner, \
         l.lanpltrusted, l.lanplcallfoid, l.laninline, l.lanvalidator, {ext} AS extoid, \
         l.lanacl::text[] AS acl, pg_catalog.acldefault('l', l.lanowner)::text[] AS acldefault, \
         pip.initprivs::text[] AS initprivs \
         FROM pg_catalog.pg_language l \
         LEFT JOIN pg_catalog.pg_init_privs pip ON pip.objoid = l.oid \
              AND pip.classoid = 'pg_catalog.pg_language'::pg_catalog.regclass AND pip.objsubid = 0 \
         WHERE l.lanispl ORDER BY l.oid",
        ext = ext_of("pg_catalog.pg_language", "l.oid"),
    );
    for row in query(client, "procedural languages", &sql, &[]).await? {
        catalog.kinds.functions.langs.push(Language {
            oid: oid(&row, "oid"),
            name: row.get("lanname"),
            owner: row.get("owner"),
            trusted: row.get("lanpltrusted"),
            handler: oid(&row, "lanplcallfoid"),
            inline: oid(&row, "laninline"),
            validator: oid(&row, "lanvalidator"),
            ext_oid: row.get("extoid"),
            acl: row.get("acl"),
            acl_default: text_array(&row, "acldefault"),
            init_privs: row.get("initprivs"),
        });
    }
    Ok(())
}

/// `schema.name(argtypes)` of function `oid_expr`, name and schema raw (quoted in Rust).
fn signature_columns(prefix: &str, oid_expr: &str) -> String {
    format!(
        "(SELECT fn.nspname FROM pg_catalog.pg_proc fp JOIN pg_catalog.pg_namespace fn \
           ON fn.oid = fp.pronamespace WHERE fp.oid = {oid_expr}) AS {prefix}nsp, \
         (SELECT fp.proname FROM pg_catalog.pg_proc fp WHERE fp.oid = {oid_expr}) AS {prefix}name, \
         (SELECT {args} FROM pg_catalog.pg_proc fp WHERE fp.oid = {oid_expr}) AS {prefix}args",
        args = per_type(
            "fp.proargtypes::pg_catalog.oid[]",
            "pg_catalog.format_type(a.t, NULL)"
        ),
    )
}

/// The signature read by [`signature_columns`], as pg_dump's
/// `format_function_signature` with the schema in front.
fn signature(row: &Row, prefix: &str) -> Option<String> {
    let name: String = row.get::<_, Option<String>>(format!("{prefix}name").as_str())?;
    let nsp: String = row.get(format!("{prefix}nsp").as_str());
    let args = text_array(row, &format!("{prefix}args"));
    Some(format!(
        "{}.{}({})",
        quote_ident(&nsp),
        quote_ident(&name),
        args.join(", ")
    ))
}

async fn read_casts(client: &Client, version: i32, catalog: &mut Catalog) -> Result<()> {
    // Casts between a range type and its multirange are made with the range type.
    let multirange = if version >= 140000 {
        "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_range r \
         WHERE c.castsource = r.rngtypid AND c.casttarget = r.rngmultitypid)"
    } else {
        ""
    };
    let sql = format!(
        "SELECT c.oid, pg_catalog.format_type(c.castsource, NULL) AS source, \
         pg_catalog.format_type(c.casttarget, NULL) AS target, \
         COALESCE((SELECT typname::text FROM pg_catalog.pg_type WHERE oid = c.castsource) || ' ' || \
                  (SELECT typname::text FROM pg_catalog.pg_type WHERE oid = c.casttarget), '') AS sortname, \
         c.castcontext, c.castmethod, {ext} IS NOT NULL AS extmember, {func} \
         FROM pg_catalog.pg_cast c WHERE c.oid >= {FIRST_NORMAL_OID} {multirange} ORDER BY c.oid",
        ext = ext_of("pg_catalog.pg_cast", "c.oid"),
        func = signature_columns("f", "c.castfunc"),
    );
    for row in query(client, "casts", &sql, &[]).await? {
        catalog.kinds.functions.casts.push(Cast {
            oid: oid(&row, "oid"),
            sort_name: row.get("sortname"),
            source: row.get("source"),
            target: row.get("target"),
            function: signature(&row, "f"),
            context: byte(&row, "castcontext"),
            method: byte(&row, "castmethod"),
            ext_member: row.get("extmember"),
        });
    }
    Ok(())
}

async fn read_transforms(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let sql = format!(
        "SELECT t.oid, pg_catalog.format_type(t.trftype, NULL) AS typname, \
         (SELECT typname::text FROM pg_catalog.pg_type WHERE oid = t.trftype) AS rawtypname, \
         (SELECT lanname::text FROM pg_catalog.pg_language WHERE oid = t.trflang) AS lanname, \
         {ext} IS NOT NULL AS extmember, {from}, {to} \
         FROM pg_catalog.pg_transform t ORDER BY t.oid",
        ext = ext_of("pg_catalog.pg_transform", "t.oid"),
        from = signature_columns("f", "t.trffromsql"),
        to = signature_columns("t", "t.trftosql"),
    );
    for row in query(client, "transforms", &sql, &[]).await? {
        let language = quote_ident(&row.get::<_, String>("lanname"));
        let raw_type: Option<String> = row.get("rawtypname");
        catalog.kinds.functions.transforms.push(Transform {
            oid: oid(&row, "oid"),
            sort_name: raw_type.map_or(String::new(), |t| format!("{t} {language}")),
            type_name: row.get("typname"),
            language,
            from_sql: signature(&row, "f"),
            to_sql: signature(&row, "t"),
            ext_member: row.get("extmember"),
        });
    }
    Ok(())
}

/// One graph object per row.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, _sel: &Selection) {
    let f = &catalog.kinds.functions;
    for (i, func) in f.funcs.iter().enumerate() {
        let kind = if func.kind == b'a' {
            ObjKind::Agg
        } else {
            ObjKind::Func
        };
        let mut obj = Graph::new_obj(
            kind,
            (catalog_oid::PG_PROC, func.oid),
            &func.name,
            Some(&func.schema),
            payload(Item::Func(i)),
        );
        obj.tiebreak = Tiebreak::Func(func.arg_sort.len(), func.arg_sort.clone());
        g.add(obj);
    }
    for (i, lang) in f.langs.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::ProcLang,
            (catalog_oid::PG_LANGUAGE, lang.oid),
            &lang.name,
            None,
            payload(Item::Lang(i)),
        ));
    }
    for (i, cast) in f.casts.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::Cast,
            (catalog_oid::PG_CAST, cast.oid),
            &cast.sort_name,
            None,
            payload(Item::Cast(i)),
        ));
    }
    for (i, t) in f.transforms.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::Transform,
            (catalog_oid::PG_TRANSFORM, t.oid),
            &t.sort_name,
            None,
            payload(Item::Transform(i)),
        ));
    }
}

fn payload(item: Item) -> Payload {
    Payload::Kind(KindPayload::Function(item))
}

/// The entries of one object.
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, item: Item) -> Result<()> {
    match item {
        Item::Func(i) => {
            let f = &e.catalog.kinds.functions.funcs[i];
            match (function_mode(e.sel, f), &f.agg) {
                (Mode::None, _) => Ok(()),
                (mode, None) => emit_function(e, f, mode),
                (mode, Some(agg)) => emit_aggregate(e, f, agg, mode),
            }
        }
        Item::Lang(i) => emit_language(e, i),
        Item::Cast(i) => {
            emit_cast(e, &e.catalog.kinds.functions.casts[i]);
            Ok(())
        }
        Item::Transform(i) => {
            emit_transform(e, &e.catalog.kinds.functions.transforms[i]);
            Ok(())
        }
    }
}

/// What pg_dump dumps of an object in schema `nsp` (or none) that may belong to
/// extension `ext`: extension members only their privileges (members of extensions
/// created by initdb always, others with the whole database); system schemas nothing,
/// except `pg_catalog`, whose objects' privileges a whole-database dump keeps.
pub(crate) fn object_mode(sel: &Selection, nsp: Option<(u32, &str)>, ext: Option<u32>) -> Mode {
    if let Some(ext) = ext {
        return if ext < FIRST_NORMAL_OID || sel.whole_database {
            Mode::AclOnly
        } else {
            Mode::None
        };
    }
    match nsp {
        Some((_, "pg_catalog")) if sel.whole_database => Mode::AclOnly,
        Some((oid, _)) if sel.schemas.contains(&oid) => Mode::Full,
        Some(_) => Mode::None,
        None if sel.whole_database => Mode::Full,
        None => Mode::None,
    }
}

pub(crate) fn function_mode(sel: &Selection, f: &Function) -> Mode {
    object_mode(sel, Some((f.nsp_oid, &f.schema)), f.ext_oid)
}

/// The privileges entry, diffed against the initial privileges when there are any
/// (`pg_init_privs`), else against the kind's default.
#[allow(clippy::too_many_arguments)]
pub(crate) fn emit_acl(
    e: &mut Emitter<'_>,
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    owner: &str,
    acl: &Option<Vec<String>>,
    acl_default: &[String],
    init_privs: &Option<Vec<String>>,
) -> Result<()> {
    let (acls, base) = match (acl, init_privs) {
        (Some(acl), Some(init)) => (acl.as_slice(), init.as_slice()),
        (None, Some(init)) => (acl_default, init.as_slice()),
        (Some(acl), None) => (acl.as_slice(), acl_default),
        (None, None) => return Ok(()),
    };
    let target = AclTarget {
        kind,
        name,
        subname: None,
        namespace,
        owner: Some(owner),
    };
    e.acl(&target, acls, base, format!("{kind} {name}"))
}

/// `format_type` list of the input arguments: the `-- Name:` tag and GRANT target of
/// aggregates.
fn type_list(f: &Function) -> String {
    f.arg_types.join(", ")
}

fn emit_function(e: &mut Emitter<'_>, f: &Function, mode: Mode) -> Result<()> {
    let keyword = if f.kind == b'p' {
        "PROCEDURE"
    } else {
        "FUNCTION"
    };
    let qname = quote_ident(&f.name);
    let sig = format!("{qname}({})", f.identity_args);
    if mode == Mode::Full {
        let qual_sig = format!("{}.{sig}", quote_ident(&f.schema));
        let tag = format!("{}({})", f.name, type_list(f));
        let mut entry = Entry::new(tag, keyword, Some(&f.schema), &f.owner);
        entry.create = function_sql(f, keyword);
        entry.drop = format!("DROP {keyword} {qual_sig};\n");
        entry.owner_object = Some(format!("{keyword} {qual_sig}"));
        e.push(entry);
        if let Some(text) = e
            .comment_of(catalog_oid::PG_PROC, f.oid, 0)
            .map(str::to_string)
        {
            e.comment(keyword, &sig, Some(&f.schema), &f.owner, &text);
        }
        let (schema, owner) = (Some(f.schema.as_str()), f.owner.as_str());
        super::seclabels::label(
            e,
            keyword,
            &sig,
            schema,
            owner,
            catalog_oid::PG_PROC,
            f.oid,
            0,
        );
    }
    emit_acl(
        e,
        keyword,
        &sig,
        Some(&f.schema),
        &f.owner,
        &f.acl,
        &f.acl_default,
        &f.init_privs,
    )
}

/// `CREATE FUNCTION|PROCEDURE ...` as pg_dump's `dumpFunc` writes it.
fn function_sql(f: &Function, keyword: &str) -> String {
    let mut q = format!(
        "CREATE {keyword} {}.{}({})",
        quote_ident(&f.schema),
        quote_ident(&f.name),
        f.args
    );
    if f.kind != b'p' {
        if let Some(result) = &f.result {
            q.push_str(&format!(" RETURNS {result}"));
        }
    }
    q.push_str(&format!("\n    LANGUAGE {}", quote_ident(&f.language)));
    if !f.transform_types.is_empty() {
        let types: Vec<String> = f
            .transform_types
            .iter()
            .map(|t| format!("FOR TYPE {t}"))
            .collect();
        q.push_str(&format!(" TRANSFORM {}", types.join(", ")));
    }
    if f.kind == b'w' {
        q.push_str(" WINDOW");
    }
    match f.volatile {
        b'i' => q.push_str(" IMMUTABLE"),
        b's' => q.push_str(" STABLE"),
        _ => {}
    }
    for (set, word) in [
        (f.strict, " STRICT"),
        (f.security_definer, " SECURITY DEFINER"),
        (f.leakproof, " LEAKPROOF"),
    ] {
        if set {
            q.push_str(word);
        }
    }
    // Defaults as in functioncmds.c: cost 1 for C and internal functions, else 100.
    let default_cost = if matches!(f.language.as_str(), "internal" | "c") {
        "1"
    } else {
        "100"
    };
    if f.cost != "0" && f.cost != default_cost {
        q.push_str(&format!(" COST {}", f.cost));
    }
    if f.returns_set && f.rows != "0" && f.rows != "1000" {
        q.push_str(&format!(" ROWS {}", f.rows));
    }
    if f.support != "-" {
        q.push_str(&format!(" SUPPORT {}", f.support));
    }
    match f.parallel {
        b's' => q.push_str(" PARALLEL SAFE"),
        b'r' => q.push_str(" PARALLEL RESTRICTED"),
        _ => {}
    }
    for item in &f.config {
        q.push_str(&config_clause(item));
    }
    q.push_str(&format!("\n    {};\n", function_body(f)));
    q
}

/// The `AS ...` part (or the SQL-standard body).
fn function_body(f: &Function) -> String {
    if let Some(body) = &f.sql_body {
        return body.clone();
    }
    if f.bin.is_empty() {
        return format!("AS {}", dollar_quote(&f.src, None));
    }
    let mut s = format!("AS {}", quote_literal(&f.bin));
    if !f.src.is_empty() {
        // With a library, a plain literal unless quoting would need escapes.
        let src = if f.src.contains('\'') || f.src.contains('\\') {
            dollar_quote(&f.src, None)
        } else {
            quote_literal(&f.src)
        };
        s.push_str(&format!(", {src}"));
    }
    s
}

/// Settings whose values the server stores as a quoted list
/// (`variable_is_guc_list_quote`).
fn is_list_guc(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "local_preload_libraries"
            | "search_path"
            | "session_preload_libraries"
            | "shared_preload_libraries"
            | "temp_tablespaces"
            | "unix_socket_directories"
    )
}

/// `\n    SET name TO value` for one `proconfig` item.
fn config_clause(item: &str) -> String {
    let Some((name, value)) = item.split_once('=') else {
        return String::new();
    };
    let mut s = format!("\n    SET {} TO ", quote_ident(name));
    if is_list_guc(name) {
        if let Some(items) = split_guc_list(value) {
            let quoted: Vec<String> = items.iter().map(|i| quote_literal(i)).collect();
            s.push_str(&quoted.join(", "));
        }
    } else {
        s.push_str(&quote_literal(value));
    }
    s
}

/// Splits a list-valued setting as `SplitGUCList` does: comma-separated names,
/// double-quoted ones with `""` for `"`, unquoted ones taken as they are. None for a
/// malformed list.
fn split_guc_list(raw: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = raw.chars().collect();
    let mut i = 0;
    let skip_space = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let mut out = Vec::new();
    skip_space(&mut i);
    if i == chars.len() {
        return Some(out);
    }
    loop {
        let mut name = String::new();
        if chars[i] == '"' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return None,
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        name.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        name.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < chars.len() && chars[i] != ',' && !chars[i].is_ascii_whitespace() {
                name.push(chars[i]);
                i += 1;
            }
            if name.is_empty() {
                return None;
            }
        }
        skip_space(&mut i);
        out.push(name);
        match chars.get(i) {
            Some(',') => {
                i += 1;
                skip_space(&mut i);
            }
            None => return Some(out),
            Some(_) => return None,
        }
    }
}

fn emit_aggregate(e: &mut Emitter<'_>, f: &Function, agg: &Aggregate, mode: Mode) -> Result<()> {
    let qname = quote_ident(&f.name);
    let no_args = f.arg_types.is_empty();
    let sig = if no_args {
        format!("{qname}(*)")
    } else {
        format!("{qname}({})", f.identity_args)
    };
    if mode == Mode::Full {
        let full_sig = if no_args {
            format!("{qname}(*)")
        } else {
            format!("{qname}({})", f.args)
        };
        let qschema = quote_ident(&f.schema);
        let tag = if no_args {
            format!("{}(*)", f.name)
        } else {
            format!("{}({})", f.name, type_list(f))
        };
        let mut entry = Entry::new(tag, "AGGREGATE", Some(&f.schema), &f.owner);
        entry.create = format!(
            "CREATE AGGREGATE {qschema}.{full_sig} (\n{}\n);\n",
            aggregate_details(f, agg)
        );
        entry.drop = format!("DROP AGGREGATE {qschema}.{sig};\n");
        entry.owner_object = Some(format!("AGGREGATE {qschema}.{sig}"));
        e.push(entry);
        if let Some(text) = e
            .comment_of(catalog_oid::PG_PROC, f.oid, 0)
            .map(str::to_string)
        {
            e.comment("AGGREGATE", &sig, Some(&f.schema), &f.owner, &text);
        }
        let (schema, owner) = (Some(f.schema.as_str()), f.owner.as_str());
        super::seclabels::label(
            e,
            "AGGREGATE",
            &sig,
            schema,
            owner,
            catalog_oid::PG_PROC,
            f.oid,
            0,
        );
    }
    // There is no GRANT ... ON AGGREGATE: the ACL names it as a function.
    let acl_sig = format!("{qname}({})", type_list(f));
    emit_acl(
        e,
        "FUNCTION",
        &acl_sig,
        Some(&f.schema),
        &f.owner,
        &f.acl,
        &f.acl_default,
        &f.init_privs,
    )
}

/// `FINALFUNC_MODIFY = ...` wording of an `aggfinalmodify` value.
fn modify_word(m: u8) -> &'static str {
    match m {
        b'r' => "READ_ONLY",
        b's' => "SHAREABLE",
        _ => "READ_WRITE",
    }
}

/// The option list inside `CREATE AGGREGATE ... ( ... )`, as `dumpAgg` writes it.
fn aggregate_details(f: &Function, a: &Aggregate) -> String {
    // Must match DefineAggregate's defaults.
    let default_modify = if a.kind == b'n' { b'r' } else { b'w' };
    let mut d = format!("    SFUNC = {},\n    STYPE = {}", a.transfn, a.transtype);
    if a.transspace != 0 {
        d.push_str(&format!(",\n    SSPACE = {}", a.transspace));
    }
    if let Some(init) = &a.initval {
        d.push_str(&format!(",\n    INITCOND = {}", quote_literal(init)));
    }
    if a.finalfn != "-" {
        d.push_str(&format!(",\n    FINALFUNC = {}", a.finalfn));
        if a.final_extra {
            d.push_str(",\n    FINALFUNC_EXTRA");
        }
        if a.final_modify != default_modify {
            d.push_str(&format!(
                ",\n    FINALFUNC_MODIFY = {}",
                modify_word(a.final_modify)
            ));
        }
    }
    for (name, func) in [
        ("COMBINEFUNC", &a.combinefn),
        ("SERIALFUNC", &a.serialfn),
        ("DESERIALFUNC", &a.deserialfn),
    ] {
        if func != "-" {
            d.push_str(&format!(",\n    {name} = {func}"));
        }
    }
    if a.mtransfn != "-" {
        d.push_str(&format!(
            ",\n    MSFUNC = {},\n    MINVFUNC = {},\n    MSTYPE = {}",
            a.mtransfn, a.minvtransfn, a.mtranstype
        ));
    }
    if a.mtransspace != 0 {
        d.push_str(&format!(",\n    MSSPACE = {}", a.mtransspace));
    }
    if let Some(init) = &a.minitval {
        d.push_str(&format!(",\n    MINITCOND = {}", quote_literal(init)));
    }
    if a.mfinalfn != "-" {
        d.push_str(&format!(",\n    MFINALFUNC = {}", a.mfinalfn));
        if a.mfinal_extra {
            d.push_str(",\n    MFINALFUNC_EXTRA");
        }
        if a.mfinal_modify != default_modify {
            d.push_str(&format!(
                ",\n    MFINALFUNC_MODIFY = {}",
                modify_word(a.mfinal_modify)
            ));
        }
    }
    if let Some((nsp, name)) = &a.sortop {
        d.push_str(&format!(
            ",\n    SORTOP = OPERATOR({}.{name})",
            quote_ident(nsp)
        ));
    }
    if a.kind == b'h' {
        d.push_str(",\n    HYPOTHETICAL");
    }
    match f.parallel {
        b's' => d.push_str(",\n    PARALLEL = safe"),
        b'r' => d.push_str(",\n    PARALLEL = restricted"),
        _ => {}
    }
    d
}

/// pg_dump's `selectDumpableProcLang` and friends for objects without a schema that
/// initdb may have created: built-in ones are never dumped.
fn global_mode(sel: &Selection, oid: u32, ext: Option<u32>) -> Mode {
    match ext {
        Some(_) => object_mode(sel, None, ext),
        None if oid < FIRST_NORMAL_OID => Mode::None,
        None => object_mode(sel, None, None),
    }
}

fn emit_language(e: &mut Emitter<'_>, i: usize) -> Result<()> {
    let lang = &e.catalog.kinds.functions.langs[i];
    let mode = global_mode(e.sel, lang.oid, lang.ext_oid);
    if mode == Mode::None {
        return Ok(());
    }
    let q = quote_ident(&lang.name);
    if mode == Mode::Full {
        let mut entry = Entry::new(lang.name.clone(), "PROCEDURAL LANGUAGE", None, &lang.owner);
        entry.create = language_sql(e, lang, &q);
        entry.drop = format!("DROP PROCEDURAL LANGUAGE {q};\n");
        entry.owner_object = Some(format!("PROCEDURAL LANGUAGE {q}"));
        e.push(entry);
        if let Some(text) = e
            .comment_of(catalog_oid::PG_LANGUAGE, lang.oid, 0)
            .map(str::to_string)
        {
            e.comment("LANGUAGE", &q, None, &lang.owner, &text);
        }
        let oid = lang.oid;
        super::seclabels::label(
            e,
            "LANGUAGE",
            &q,
            None,
            &lang.owner,
            catalog_oid::PG_LANGUAGE,
            oid,
            0,
        );
    }
    if lang.trusted {
        emit_acl(
            e,
            "LANGUAGE",
            &q,
            None,
            &lang.owner,
            &lang.acl,
            &lang.acl_default,
            &lang.init_privs,
        )?;
    }
    Ok(())
}

/// `CREATE [TRUSTED] PROCEDURAL LANGUAGE` naming its support functions when they are
/// all in the dump, else the parameterless form (which the server turns into
/// `CREATE EXTENSION`).
fn language_sql(e: &Emitter<'_>, lang: &Language, q: &str) -> String {
    let dumped = |oid: u32| {
        e.catalog
            .kinds
            .functions
            .funcs
            .iter()
            .find(|f| f.oid == oid)
            .filter(|f| function_mode(e.sel, f) != Mode::None)
            .map(|f| qualified(&f.schema, &f.name))
    };
    let handler = dumped(lang.handler);
    let inline = (lang.inline != 0).then(|| dumped(lang.inline));
    let validator = (lang.validator != 0).then(|| dumped(lang.validator));
    let complete =
        handler.is_some() && !matches!(inline, Some(None)) && !matches!(validator, Some(None));
    if !complete {
        return format!("CREATE OR REPLACE PROCEDURAL LANGUAGE {q};\n");
    }
    let trusted = if lang.trusted { "TRUSTED " } else { "" };
    let mut s = format!(
        "CREATE {trusted}PROCEDURAL LANGUAGE {q} HANDLER {}",
        handler.unwrap_or_default()
    );
    if let Some(Some(f)) = inline {
        s.push_str(&format!(" INLINE {f}"));
    }
    if let Some(Some(f)) = validator {
        s.push_str(&format!(" VALIDATOR {f}"));
    }
    s.push_str(";\n");
    s
}

/// Entries of kinds without owners (casts, transforms, access methods, text search
/// parsers and templates) carry no owner at all, which the header shows as `-`.
pub(crate) const NO_OWNER: &str = "-";

fn emit_cast(e: &mut Emitter<'_>, cast: &Cast) {
    let ext = cast.ext_member.then_some(0);
    if global_mode(e.sel, cast.oid, ext) != Mode::Full {
        return;
    }
    let pair = format!("({} AS {})", cast.source, cast.target);
    let mut create = format!("CREATE CAST {pair} ");
    match (cast.method, &cast.function) {
        (b'b', _) => create.push_str("WITHOUT FUNCTION"),
        (b'i', _) => create.push_str("WITH INOUT"),
        (_, Some(f)) => create.push_str(&format!("WITH FUNCTION {f}")),
        (_, None) => {
            tracing::warn!(cast = %pair, "bogus value in pg_cast.castfunc or pg_cast.castmethod field");
        }
    }
    match cast.context {
        b'a' => create.push_str(" AS ASSIGNMENT"),
        b'i' => create.push_str(" AS IMPLICIT"),
        _ => {}
    }
    create.push_str(";\n");
    let mut entry = Entry::new(format!("CAST {pair}"), "CAST", None, NO_OWNER);
    entry.create = create;
    entry.drop = format!("DROP CAST {pair};\n");
    e.push(entry);
    if let Some(text) = e
        .comment_of(catalog_oid::PG_CAST, cast.oid, 0)
        .map(str::to_string)
    {
        e.comment("CAST", &pair, None, "", &text);
    }
}

fn emit_transform(e: &mut Emitter<'_>, t: &Transform) {
    let ext = t.ext_member.then_some(0);
    if global_mode(e.sel, FIRST_NORMAL_OID, ext) != Mode::Full {
        return;
    }
    let what = format!("FOR {} LANGUAGE {}", t.type_name, t.language);
    let mut create = format!("CREATE TRANSFORM {what} (");
    if let Some(f) = &t.from_sql {
        create.push_str(&format!("FROM SQL WITH FUNCTION {f}"));
    }
    if let Some(f) = &t.to_sql {
        if t.from_sql.is_some() {
            create.push_str(", ");
        }
        create.push_str(&format!("TO SQL WITH FUNCTION {f}"));
    }
    create.push_str(");\n");
    let mut entry = Entry::new(format!("TRANSFORM {what}"), "TRANSFORM", None, NO_OWNER);
    entry.create = create;
    entry.drop = format!("DROP TRANSFORM {what};\n");
    e.push(entry);
    if let Some(text) = e
        .comment_of(catalog_oid::PG_TRANSFORM, t.oid, 0)
        .map(str::to_string)
    {
        e.comment("TRANSFORM", &what, None, "", &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guc_lists_split_like_split_guc_list() {
        assert_eq!(
            split_guc_list("functions, pg_temp").unwrap(),
            ["functions", "pg_temp"]
        );
        assert_eq!(split_guc_list("\"\"").unwrap(), [""]);
        assert_eq!(
            split_guc_list("\"My \"\"S\"\"\" ,  b").unwrap(),
            ["My \"S\"", "b"]
        );
        assert_eq!(split_guc_list("  ").unwrap(), Vec::<String>::new());
        assert!(split_guc_list("a b").is_none());
        assert!(split_guc_list("\"open").is_none());
    }

    #[test]
    fn config_items_quote_like_pg_dump() {
        assert_eq!(
            config_clause("search_path=functions, pg_temp"),
            "\n    SET search_path TO 'functions', 'pg_temp'"
        );
        assert_eq!(
            config_clause("DateStyle=ISO, DMY"),
            "\n    SET \"DateStyle\" TO 'ISO, DMY'"
        );
        assert_eq!(
            config_clause("application_name=it's"),
            "\n    SET application_name TO 'it''s'"
        );
    }
}
