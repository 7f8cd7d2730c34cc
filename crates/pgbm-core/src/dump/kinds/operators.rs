//! Operators, access methods, operator classes and operator families.
//!
//! One query per catalog, plus one for all class and family members (`pg_amop`,
//! `pg_amproc`). As in pg_dump, a member belongs to the operator class when `pg_depend`
//! ties it to the class, and is a "loose" member of the family (added with
//! `ALTER OPERATOR FAMILY ... ADD`) when it is tied to the family; and the members'
//! own dependencies (on operators, functions, types) count as their family's.

use super::functions::{object_mode, Mode, FIRST_NORMAL_OID, NO_OWNER};
use super::KindPayload;
use crate::dump::catalog::{byte, oid, query, Catalog, Depend};
use crate::dump::emit::{Emitter, Entry};
use crate::dump::model::{catalog_oid, Graph, Obj, ObjKind, Payload, Tiebreak};
use crate::dump::select::Selection;
use crate::error::Result;
use crate::sql::{qualified, quote_ident};
use std::cmp::Reverse;
use tokio_postgres::{Client, Row};

/// An operator.
#[derive(Debug, Clone)]
pub(crate) struct Operator {
    pub oid: u32,
    pub nsp_oid: u32,
    pub schema: String,
    pub name: String,
    pub owner: String,
    /// `b` infix, `l` prefix, `r` postfix (before 14).
    pub kind: u8,
    /// `oprcode::regprocedure`, `-` for a shell operator.
    pub code: String,
    /// `oprleft`/`oprright` as `regtype`, `-` for none.
    pub left: String,
    pub right: String,
    /// (schema, type name) of the operand types, pg_dump's sort tie-break.
    pub left_sort: (String, String),
    pub right_sort: (String, String),
    /// Commutator and negator as (schema, name).
    pub commutator: Option<(String, String)>,
    pub negator: Option<(String, String)>,
    pub restrict: String,
    pub join: String,
    pub merges: bool,
    pub hashes: bool,
    pub ext_member: bool,
}

/// An access method.
#[derive(Debug, Clone)]
pub(crate) struct AccessMethod {
    pub oid: u32,
    pub name: String,
    /// `i`ndex or `t`able.
    pub kind: u8,
    /// `amhandler::regproc`.
    pub handler: String,
    pub ext_member: bool,
}

/// An operator class or operator family member.
#[derive(Debug, Clone)]
pub(crate) enum Member {
    /// `OPERATOR strategy op(types) [FOR ORDER BY family]`.
    Op {
        strategy: i32,
        operator: String,
        sort_family: Option<(String, String)>,
    },
    /// `FUNCTION number (left, right) function(types)`.
    Func {
        number: i32,
        left: String,
        right: String,
        function: String,
    },
}

/// An operator class (`is_class`) or family.
#[derive(Debug, Clone)]
pub(crate) struct OpGroup {
    pub oid: u32,
    pub is_class: bool,
    pub nsp_oid: u32,
    pub schema: String,
    pub name: String,
    pub owner: String,
    pub access_method: String,
    /// Classes: `DEFAULT`, input and storage types, family.
    pub is_default: bool,
    pub input_type: String,
    /// `opckeytype::regtype`, `-` for none.
    pub key_type: String,
    pub family: Option<(String, String)>,
    /// Members tied to this class or (loose ones) to this family.
    pub members: Vec<Member>,
    pub ext_member: bool,
}

/// The rows read from the catalog.
#[derive(Debug, Default)]
pub(crate) struct Operators {
    pub operators: Vec<Operator>,
    pub access_methods: Vec<AccessMethod>,
    pub groups: Vec<OpGroup>,
}

/// Which object of this module a graph object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Operator(usize),
    AccessMethod(usize),
    Group(usize),
}

/// Reads operators, access methods, operator classes and families (after the locks).
pub(crate) async fn read(client: &Client, catalog: &mut Catalog) -> Result<()> {
    read_operators(client, catalog).await?;
    read_access_methods(client, catalog).await?;
    read_groups(client, catalog).await?;
    read_members(client, catalog).await?;
    read_member_depends(client, catalog).await?;
    Ok(())
}

/// Objects in schemas that are never dumped are left out.
const USER_SCHEMA: &str = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'";

fn ext_member(cat: &str, oid_expr: &str) -> String {
    format!(
        "{} IS NOT NULL AS extmember",
        super::functions::ext_of(cat, oid_expr)
    )
}

async fn read_operators(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let type_key = |col: &str, alias: &str| {
        format!(
            "(SELECT tn.nspname FROM pg_catalog.pg_type ty JOIN pg_catalog.pg_namespace tn \
               ON tn.oid = ty.typnamespace WHERE ty.oid = o.{col}) AS {alias}nsp, \
             (SELECT ty.typname FROM pg_catalog.pg_type ty WHERE ty.oid = o.{col}) AS {alias}name"
        )
    };
    let other = |col: &str, alias: &str| {
        format!(
            "(SELECT x.oprname FROM pg_catalog.pg_operator x WHERE x.oid = o.{col}) AS {alias}name, \
             (SELECT xn.nspname FROM pg_catalog.pg_operator x JOIN pg_catalog.pg_namespace xn \
               ON xn.oid = x.oprnamespace WHERE x.oid = o.{col}) AS {alias}nsp"
        )
    };
    let sql = format!(
        "SELECT o.oid, o.oprname, o.oprnamespace, n.nspname, \
         pg_catalog.pg_get_userbyid(o.oprowner) AS owner, o.oprkind, \
         o.oprcode::pg_catalog.regprocedure::text AS oprcode, \
         o.oprleft::pg_catalog.regtype::text AS oprleft, \
         o.oprright::pg_catalog.regtype::text AS oprright, {left}, {right}, {com}, {neg}, \
         o.oprrest::pg_catalog.regprocedure::text AS oprrest, \
         o.oprjoin::pg_catalog.regprocedure::text AS oprjoin, o.oprcanmerge, o.oprcanhash, {ext} \
         FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace \
         WHERE {USER_SCHEMA} ORDER BY o.oid",
        left = type_key("oprleft", "l"),
        right = type_key("oprright", "r"),
        com = other("oprcom", "com"),
        neg = other("oprnegate", "neg"),
        ext = ext_member("pg_catalog.pg_operator", "o.oid"),
    );
    for row in query(client, "operators", &sql, &[]).await? {
        catalog.kinds.operators.operators.push(Operator {
            oid: oid(&row, "oid"),
            nsp_oid: oid(&row, "oprnamespace"),
            schema: row.get("nspname"),
            name: row.get("oprname"),
            owner: row.get("owner"),
            kind: byte(&row, "oprkind"),
            code: row.get("oprcode"),
            left: row.get("oprleft"),
            right: row.get("oprright"),
            left_sort: pair(&row, "lnsp", "lname").unwrap_or_default(),
            right_sort: pair(&row, "rnsp", "rname").unwrap_or_default(),
            commutator: pair(&row, "comnsp", "comname"),
            negator: pair(&row, "negnsp", "negname"),
            restrict: row.get("oprrest"),
            join: row.get("oprjoin"),
            merges: row.get("oprcanmerge"),
            hashes: row.get("oprcanhash"),
            ext_member: row.get("extmember"),
        });
    }
    Ok(())
}

/// Two nullable name columns as a pair.
fn pair(row: &Row, a: &str, b: &str) -> Option<(String, String)> {
    let x: Option<String> = row.get(a);
    let y: Option<String> = row.get(b);
    Some((x?, y?))
}

async fn read_access_methods(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let sql = format!(
        "SELECT a.oid, a.amname, a.amtype, a.amhandler::pg_catalog.regproc::text AS amhandler, {ext} \
         FROM pg_catalog.pg_am a WHERE a.oid >= {FIRST_NORMAL_OID} ORDER BY a.oid",
        ext = ext_member("pg_catalog.pg_am", "a.oid"),
    );
    for row in query(client, "access methods", &sql, &[]).await? {
        catalog.kinds.operators.access_methods.push(AccessMethod {
            oid: oid(&row, "oid"),
            name: row.get("amname"),
            kind: byte(&row, "amtype"),
            handler: row.get("amhandler"),
            ext_member: row.get("extmember"),
        });
    }
    Ok(())
}

async fn read_groups(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let sql = format!(
        "SELECT c.oid, true AS isclass, c.opcnamespace AS nsp, n.nspname, c.opcname AS name, \
         pg_catalog.pg_get_userbyid(c.opcowner) AS owner, \
         (SELECT amname FROM pg_catalog.pg_am WHERE oid = c.opcmethod) AS amname, \
         c.opcdefault, c.opcintype::pg_catalog.regtype::text AS intype, \
         c.opckeytype::pg_catalog.regtype::text AS keytype, \
         f.opfname AS famname, fn.nspname AS famnsp, {cext} \
         FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace \
         LEFT JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily \
         LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = f.opfnamespace \
         WHERE {USER_SCHEMA} \
         UNION ALL \
         SELECT f.oid, false, f.opfnamespace, n.nspname, f.opfname, \
         pg_catalog.pg_get_userbyid(f.opfowner), \
         (SELECT amname FROM pg_catalog.pg_am WHERE oid = f.opfmethod), \
         false, NULL, NULL, NULL, NULL, {fext} \
         FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace \
         WHERE {USER_SCHEMA} ORDER BY 2 DESC, 1",
        cext = ext_member("pg_catalog.pg_opclass", "c.oid"),
        fext = ext_member("pg_catalog.pg_opfamily", "f.oid"),
    );
    for row in query(client, "operator classes and families", &sql, &[]).await? {
        catalog.kinds.operators.groups.push(OpGroup {
            oid: oid(&row, "oid"),
            is_class: row.get("isclass"),
            nsp_oid: oid(&row, "nsp"),
            schema: row.get("nspname"),
            name: row.get("name"),
            owner: row.get("owner"),
            access_method: row.get("amname"),
            is_default: row.get("opcdefault"),
            input_type: row.get::<_, Option<String>>("intype").unwrap_or_default(),
            key_type: row.get::<_, Option<String>>("keytype").unwrap_or_default(),
            family: pair(&row, "famnsp", "famname"),
            members: Vec::new(),
            ext_member: row.get("extmember"),
        });
    }
    Ok(())
}

/// Members of every class and family read, in pg_dump's order: operators by strategy,
/// then functions by support number.
async fn read_members(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let groups: Vec<u32> = catalog
        .kinds
        .operators
        .groups
        .iter()
        .map(|g| g.oid)
        .collect();
    if groups.is_empty() {
        return Ok(());
    }
    let sql = "SELECT d.refclassid = 'pg_catalog.pg_opclass'::pg_catalog.regclass AS ofclass, \
        d.refobjid AS grp, 0 AS what, ao.amopstrategy::int4 AS num, \
        ao.amopopr::pg_catalog.regoperator::text AS member, NULL::text AS lefttype, \
        NULL::text AS righttype, f.opfname::text AS sortname, sn.nspname::text AS sortnsp, ao.oid \
        FROM pg_catalog.pg_amop ao \
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amop'::pg_catalog.regclass \
             AND d.objid = ao.oid \
        LEFT JOIN pg_catalog.pg_opfamily f ON f.oid = ao.amopsortfamily \
        LEFT JOIN pg_catalog.pg_namespace sn ON sn.oid = f.opfnamespace \
        WHERE d.refobjid = ANY($1) AND (d.refclassid = 'pg_catalog.pg_opclass'::pg_catalog.regclass \
              OR (d.refclassid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass AND ao.amopfamily = d.refobjid)) \
        UNION ALL \
        SELECT d.refclassid = 'pg_catalog.pg_opclass'::pg_catalog.regclass, d.refobjid, 1, \
        ap.amprocnum::int4, ap.amproc::pg_catalog.regprocedure::text, \
        ap.amproclefttype::pg_catalog.regtype::text, ap.amprocrighttype::pg_catalog.regtype::text, \
        NULL, NULL, ap.oid \
        FROM pg_catalog.pg_amproc ap \
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amproc'::pg_catalog.regclass \
             AND d.objid = ap.oid \
        WHERE d.refobjid = ANY($1) AND d.refclassid IN ('pg_catalog.pg_opclass'::pg_catalog.regclass, \
              'pg_catalog.pg_opfamily'::pg_catalog.regclass) \
        ORDER BY 2, 3, 4, 10";
    for row in query(client, "operator class members", sql, &groups).await? {
        let of_class: bool = row.get("ofclass");
        let grp = oid(&row, "grp");
        let member = if row.get::<_, i32>("what") == 0 {
            Member::Op {
                strategy: row.get("num"),
                operator: row.get("member"),
                sort_family: pair(&row, "sortnsp", "sortname"),
            }
        } else {
            Member::Func {
                number: row.get("num"),
                left: row.get("lefttype"),
                right: row.get("righttype"),
                function: row.get("member"),
            }
        };
        let owner = catalog
            .kinds
            .operators
            .groups
            .iter_mut()
            .find(|g| g.oid == grp && g.is_class == of_class);
        if let Some(g) = owner {
            g.members.push(member);
        }
    }
    Ok(())
}

/// pg_dump counts a member's dependencies as its family's (not those tying it to its
/// class, nor a loose member's tie to its own family).
async fn read_member_depends(client: &Client, catalog: &mut Catalog) -> Result<()> {
    let sql = "SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass::oid AS classid, \
        o.amopfamily AS objid, d.refclassid, d.refobjid \
        FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_amop o ON o.oid = d.objid \
        WHERE d.deptype NOT IN ('p', 'e', 'i') \
        AND d.classid = 'pg_catalog.pg_amop'::pg_catalog.regclass \
        AND NOT (d.refclassid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass AND o.amopfamily = d.refobjid) \
        UNION ALL \
        SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass::oid, p.amprocfamily, d.refclassid, d.refobjid \
        FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_amproc p ON p.oid = d.objid \
        WHERE d.deptype NOT IN ('p', 'e', 'i') \
        AND d.classid = 'pg_catalog.pg_amproc'::pg_catalog.regclass \
        AND NOT (d.refclassid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass AND p.amprocfamily = d.refobjid) \
        ORDER BY 1, 2";
    for row in query(client, "operator family dependencies", sql, &[]).await? {
        catalog.depends.push(Depend {
            classid: oid(&row, "classid"),
            objid: oid(&row, "objid"),
            refclassid: oid(&row, "refclassid"),
            refobjid: oid(&row, "refobjid"),
            // Re-attributed member dependencies act as normal ones.
            deptype: b'n',
        });
    }
    Ok(())
}

/// One graph object per row.
pub(crate) fn add_objects(g: &mut Graph, catalog: &Catalog, _sel: &Selection) {
    let ops = &catalog.kinds.operators;
    for (i, o) in ops.operators.iter().enumerate() {
        let mut obj = Graph::new_obj(
            ObjKind::Operator,
            (catalog_oid::PG_OPERATOR, o.oid),
            &o.name,
            Some(&o.schema),
            payload(Item::Operator(i)),
        );
        obj.tiebreak =
            Tiebreak::Operator(Reverse(o.kind), o.left_sort.clone(), o.right_sort.clone());
        g.add(obj);
    }
    for (i, am) in ops.access_methods.iter().enumerate() {
        g.add(Graph::new_obj(
            ObjKind::AccessMethod,
            (catalog_oid::PG_AM, am.oid),
            &am.name,
            None,
            payload(Item::AccessMethod(i)),
        ));
    }
    // pg_dump creates all classes, then all families.
    for (i, grp) in ops.groups.iter().enumerate() {
        let (kind, cat, order) = if grp.is_class {
            (ObjKind::OpClass, catalog_oid::PG_OPCLASS, 0)
        } else {
            (ObjKind::OpFamily, catalog_oid::PG_OPFAMILY, 1)
        };
        let mut obj = Graph::new_obj(
            kind,
            (cat, grp.oid),
            &grp.name,
            Some(&grp.schema),
            payload(Item::Group(i)),
        );
        obj.tiebreak = Tiebreak::AccessMethod(order, grp.access_method.clone());
        g.add(obj);
    }
}

fn payload(item: Item) -> Payload {
    Payload::Kind(KindPayload::Operator(item))
}

/// The entries of one object.
pub(crate) fn emit(e: &mut Emitter<'_>, _obj: &Obj, item: Item) -> Result<()> {
    let ops = &e.catalog.kinds.operators;
    match item {
        Item::Operator(i) => emit_operator(e, &ops.operators[i]),
        Item::AccessMethod(i) => emit_access_method(e, &ops.access_methods[i]),
        Item::Group(i) => emit_group(e, &ops.groups[i]),
    }
    Ok(())
}

/// A `regprocedure` reference without its argument list (`convertRegProcReference`).
fn proc_name(regprocedure: &str) -> Option<&str> {
    if regprocedure == "-" {
        return None;
    }
    let mut in_quotes = false;
    for (i, c) in regprocedure.char_indices() {
        match c {
            '(' if !in_quotes => return Some(&regprocedure[..i]),
            '"' => in_quotes = !in_quotes,
            _ => {}
        }
    }
    Some(regprocedure)
}

/// `OPERATOR(schema.name)`, always qualified (`getFormattedOperatorName`).
fn operator_ref((nsp, name): &(String, String)) -> String {
    format!("OPERATOR({}.{name})", quote_ident(nsp))
}

fn emit_operator(e: &mut Emitter<'_>, o: &Operator) {
    let ext = o.ext_member.then_some(0);
    if object_mode(e.sel, Some((o.nsp_oid, &o.schema)), ext) != Mode::Full {
        return;
    }
    // A shell operator (made as another one's commutator before it existed).
    let Some(function) = proc_name(&o.code) else {
        return;
    };
    let mut details = format!("    FUNCTION = {function}");
    let left = if matches!(o.kind, b'r' | b'b') {
        details.push_str(&format!(",\n    LEFTARG = {}", o.left));
        o.left.as_str()
    } else {
        "NONE"
    };
    let right = if matches!(o.kind, b'l' | b'b') {
        details.push_str(&format!(",\n    RIGHTARG = {}", o.right));
        o.right.as_str()
    } else {
        "NONE"
    };
    let id = format!("{} ({left}, {right})", o.name);
    if let Some(c) = &o.commutator {
        details.push_str(&format!(",\n    COMMUTATOR = {}", operator_ref(c)));
    }
    if let Some(n) = &o.negator {
        details.push_str(&format!(",\n    NEGATOR = {}", operator_ref(n)));
    }
    if o.merges {
        details.push_str(",\n    MERGES");
    }
    if o.hashes {
        details.push_str(",\n    HASHES");
    }
    if let Some(f) = proc_name(&o.restrict) {
        details.push_str(&format!(",\n    RESTRICT = {f}"));
    }
    if let Some(f) = proc_name(&o.join) {
        details.push_str(&format!(",\n    JOIN = {f}"));
    }
    let qschema = quote_ident(&o.schema);
    let mut entry = Entry::new(o.name.clone(), "OPERATOR", Some(&o.schema), &o.owner);
    entry.create = format!("CREATE OPERATOR {qschema}.{} (\n{details}\n);\n", o.name);
    entry.drop = format!("DROP OPERATOR {qschema}.{id};\n");
    entry.owner_object = Some(format!("OPERATOR {qschema}.{id}"));
    e.push(entry);
    if let Some(text) = e
        .comment_of(catalog_oid::PG_OPERATOR, o.oid, 0)
        .map(str::to_string)
    {
        e.comment("OPERATOR", &id, Some(&o.schema), &o.owner, &text);
    }
}

fn emit_access_method(e: &mut Emitter<'_>, am: &AccessMethod) {
    let ext = am.ext_member.then_some(0);
    if object_mode(e.sel, None, ext) != Mode::Full {
        return;
    }
    let kind = match am.kind {
        b'i' => "INDEX",
        b't' => "TABLE",
        other => {
            tracing::warn!(
                access_method = %am.name,
                "invalid type \"{}\" of access method",
                other as char
            );
            return;
        }
    };
    let q = quote_ident(&am.name);
    let mut entry = Entry::new(am.name.clone(), "ACCESS METHOD", None, NO_OWNER);
    entry.create = format!(
        "CREATE ACCESS METHOD {q} TYPE {kind} HANDLER {};\n",
        am.handler
    );
    entry.drop = format!("DROP ACCESS METHOD {q};\n");
    e.push(entry);
    if let Some(text) = e
        .comment_of(catalog_oid::PG_AM, am.oid, 0)
        .map(str::to_string)
    {
        e.comment("ACCESS METHOD", &q, None, "", &text);
    }
}

/// One member as written in `CREATE OPERATOR CLASS ... AS` (`in_class`) or
/// `ALTER OPERATOR FAMILY ... ADD`.
fn member_sql(m: &Member, in_class: bool) -> String {
    match m {
        Member::Op {
            strategy,
            operator,
            sort_family,
        } => {
            let mut s = format!("OPERATOR {strategy} {operator}");
            if let Some((nsp, name)) = sort_family {
                s.push_str(&format!(
                    " FOR ORDER BY {}.{}",
                    quote_ident(nsp),
                    quote_ident(name)
                ));
            }
            s
        }
        Member::Func {
            number,
            left,
            right,
            function,
        } => {
            // A class member's types are printed only when both are set (always, in
            // practice); a family member's always.
            if in_class && (left.is_empty() || right.is_empty()) {
                format!("FUNCTION {number} {function}")
            } else {
                format!("FUNCTION {number} ({left}, {right}) {function}")
            }
        }
    }
}

fn emit_group(e: &mut Emitter<'_>, g: &OpGroup) {
    let ext = g.ext_member.then_some(0);
    if object_mode(e.sel, Some((g.nsp_oid, &g.schema)), ext) != Mode::Full {
        return;
    }
    let qual = qualified(&g.schema, &g.name);
    let using = format!("USING {}", quote_ident(&g.access_method));
    let members: Vec<String> = g
        .members
        .iter()
        .map(|m| member_sql(m, g.is_class))
        .collect();
    let (desc, create) = if g.is_class {
        let mut q = format!("CREATE OPERATOR CLASS {qual}\n    ");
        if g.is_default {
            q.push_str("DEFAULT ");
        }
        q.push_str(&format!("FOR TYPE {} {using}", g.input_type));
        if let Some((nsp, name)) = &g.family {
            q.push_str(&format!(
                " FAMILY {}.{}",
                quote_ident(nsp),
                quote_ident(name)
            ));
        }
        q.push_str(" AS\n    ");
        let mut items = Vec::new();
        if g.key_type != "-" {
            items.push(format!("STORAGE {}", g.key_type));
        }
        items.extend(members);
        if items.is_empty() {
            // DefineOpClass treats this as a no-op; it keeps the syntax valid.
            items.push(format!("STORAGE {}", g.input_type));
        }
        q.push_str(&items.join(" ,\n    "));
        q.push_str(";\n");
        ("OPERATOR CLASS", q)
    } else {
        let mut q = format!("CREATE OPERATOR FAMILY {qual} {using};\n");
        if !members.is_empty() {
            q.push_str(&format!(
                "ALTER OPERATOR FAMILY {qual} {using} ADD\n    {};\n",
                members.join(" ,\n    ")
            ));
        }
        ("OPERATOR FAMILY", q)
    };
    let mut entry = Entry::new(g.name.clone(), desc, Some(&g.schema), &g.owner);
    entry.create = create;
    entry.drop = format!("DROP {desc} {qual} {using};\n");
    entry.owner_object = Some(format!("{desc} {qual} {using}"));
    e.push(entry);
    let cat = if g.is_class {
        catalog_oid::PG_OPCLASS
    } else {
        catalog_oid::PG_OPFAMILY
    };
    if let Some(text) = e.comment_of(cat, g.oid, 0).map(str::to_string) {
        let name = format!("{} {using}", quote_ident(&g.name));
        e.comment(desc, &name, Some(&g.schema), &g.owner, &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regprocedure_arguments_are_stripped() {
        assert_eq!(proc_name("-"), None);
        assert_eq!(proc_name("int4eq(integer,integer)"), Some("int4eq"));
        assert_eq!(proc_name("s.\"f(x\"(integer)"), Some("s.\"f(x\""));
    }
}
