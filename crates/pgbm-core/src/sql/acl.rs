//! GRANT/REVOKE commands for an object's ACL, byte for byte as pg_dump 15 writes them
//! in a plain (non-binary-upgrade) dump (`buildACLCommands`, `buildDefaultACLCommands`
//! and `parseAclItem` in `pg_dump/dumputils.c`).
//!
//! The input is the object's ACL and a *base* ACL, both as lists of aclitem strings as
//! the server prints them (`alice=r*w/postgres`, `=U/postgres` for PUBLIC, quoted role
//! names like `"we ird"=r/postgres`). The base is what the object would have without
//! any GRANT/REVOKE: `acldefault(<code>, owner)`, or `pg_init_privs.initprivs` when the
//! object has initial privileges, or `{}` for columns and per-schema default ACLs.
//! Choosing it is the caller's job.
//!
//! The output follows pg_dump's algorithm:
//!
//! 1. Every base item that is not (as a string) in the ACL is revoked:
//!    `REVOKE <privs> ON <kind> <name> FROM <grantee>;`, grant options ignored.
//! 2. Every ACL item that is not in the base is granted, in ACL order, split into
//!    `GRANT <privs> … TO x;` and `GRANT <privs> … TO x WITH GRANT OPTION;`. A privilege
//!    list that covers every privilege of the kind collapses to `ALL`. Grants made by
//!    someone other than the owner are wrapped in `SET SESSION AUTHORIZATION <grantor>;`
//!    … `RESET SESSION AUTHORIZATION;`.
//! 3. The owner's grants to itself come right after the REVOKEs, before all other
//!    grants, so that revoking and re-granting the owner's privileges stays valid.

use super::quote::quote_ident;
use crate::error::{Error, Result};

/// The object an ACL belongs to, as pg_dump's `dumpACL` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclTarget<'a> {
    /// The object kind as written after `ON`: `TABLE` (also for views, materialized
    /// views and foreign tables), `SEQUENCE`, `SCHEMA`, `FUNCTION` (also aggregates),
    /// `PROCEDURE`, `TYPE` (also domains), `LANGUAGE`, `FOREIGN DATA WRAPPER`,
    /// `FOREIGN SERVER`, `LARGE OBJECT`, `DATABASE`, `TABLESPACE`, `PARAMETER` or
    /// `FOREIGN TABLE`.
    pub kind: &'a str,
    /// The object name exactly as it is to appear, already quoted and without the
    /// schema: `t`, `"My Tab"`, `f(integer)`, `4242` for a large object.
    pub name: &'a str,
    /// For column privileges, the column name, already quoted; `kind` is then `TABLE`.
    pub subname: Option<&'a str>,
    /// The raw (unquoted) schema name to qualify `name` with, if any.
    pub namespace: Option<&'a str>,
    /// The raw role name of the owner, if known. Grants by the owner need no
    /// `SET SESSION AUTHORIZATION`, and the owner's grants to itself come first.
    pub owner: Option<&'a str>,
}

/// The GRANT/REVOKE commands that turn `base_acls` into `acls` on `target`, one per
/// line, each ending in `;\n`; empty when nothing differs.
///
/// `server_version_num` is the dumped server's `server_version_num`; it matters only
/// for tables on 17+, which know the `MAINTAIN` privilege (`m`).
///
/// A NULL ACL in the catalog means "default privileges": pg_dump emits nothing for
/// it, so do not call this function then (an empty list means all privileges were
/// revoked, which is different).
///
/// # Errors
///
/// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if an aclitem cannot be parsed
/// or `target.kind` is not a kind pg_dump knows.
///
/// ```
/// use pgbm_core::sql::{build_acl_commands, AclTarget};
/// let target = AclTarget {
///     kind: "TABLE",
///     name: "t",
///     subname: None,
///     namespace: Some("s1"),
///     owner: Some("postgres"),
/// };
/// let acl = ["postgres=arwdDxt/postgres".to_string(), "alice=r*/postgres".to_string()];
/// let base = ["postgres=arwdDxt/postgres".to_string()];
/// assert_eq!(
///     build_acl_commands(&target, &acl, &base, 150000).unwrap(),
///     "GRANT SELECT ON TABLE s1.t TO alice WITH GRANT OPTION;\n"
/// );
/// ```
pub fn build_acl_commands(
    target: &AclTarget<'_>,
    acls: &[String],
    base_acls: &[String],
    server_version_num: i32,
) -> Result<String> {
    build(target, "", acls, base_acls, server_version_num)
}

/// The `ALTER DEFAULT PRIVILEGES` commands for one `pg_default_acl` entry, as pg_dump
/// 15 writes them (`buildDefaultACLCommands`):
/// `ALTER DEFAULT PRIVILEGES FOR ROLE r [IN SCHEMA s] GRANT … ON TABLES  TO x;`.
///
/// `objtype_keyword` is `TABLES`, `SEQUENCES`, `FUNCTIONS`, `TYPES` or `SCHEMAS`;
/// `schema` the raw name of `defaclnamespace` (None for a global entry); `owner_role`
/// the raw name of `defaclrole`. The base is `acldefault(<type>, defaclrole)` for
/// global entries and `{}` for per-schema ones.
///
/// Note the two spaces after the object type up to pg_dump 15: it passes an empty
/// object name to the same formatting code as ordinary ACLs, and that space is kept
/// for fidelity (pg_dump 16 and later write one space).
///
/// # Errors
///
/// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if an aclitem cannot be parsed
/// or `objtype_keyword` is unknown.
pub fn build_default_acl_commands(
    objtype_keyword: &str,
    schema: Option<&str>,
    acls: &[String],
    base_acls: &[String],
    owner_role: &str,
    server_version_num: i32,
) -> Result<String> {
    let mut prefix = format!(
        "ALTER DEFAULT PRIVILEGES FOR ROLE {} ",
        quote_ident(owner_role)
    );
    if let Some(schema) = schema {
        prefix.push_str(&format!("IN SCHEMA {} ", quote_ident(schema)));
    }
    let target = AclTarget {
        kind: objtype_keyword,
        name: "",
        subname: None,
        namespace: None,
        owner: Some(owner_role),
    };
    build(&target, &prefix, acls, base_acls, server_version_num)
}

/// The shared body of both builders; `prefix` starts every GRANT/REVOKE.
fn build(
    target: &AclTarget<'_>,
    prefix: &str,
    acls: &[String],
    base_acls: &[String],
    server_version_num: i32,
) -> Result<String> {
    let privileges = privileges_of(target.kind, target.subname.is_some(), server_version_num)
        .ok_or_else(|| Error::internal(format!("unknown ACL object kind {:?}", target.kind)))?;
    let builder = Builder {
        target,
        prefix,
        object: object_ref(target, server_version_num),
        // pg_dump treats an empty owner name as "no owner known".
        owner: target.owner.filter(|o| !o.is_empty()),
        converter: Converter {
            privileges: &privileges,
            subname: target.subname,
        },
    };

    // pg_dump diffs the lists as plain strings: aclitemout() output is canonical.
    let mut first = String::new();
    let mut second = String::new();
    for item in base_acls.iter().filter(|item| !acls.contains(item)) {
        first.push_str(&builder.revoke(item)?);
    }
    for item in acls.iter().filter(|item| !base_acls.contains(item)) {
        let (own_grant, sql) = builder.grant(item)?;
        if own_grant {
            first.push_str(&sql);
        } else {
            second.push_str(&sql);
        }
    }
    first.push_str(&second);
    Ok(first)
}

/// Formats the commands for single aclitems of one object.
struct Builder<'a> {
    target: &'a AclTarget<'a>,
    prefix: &'a str,
    object: String,
    owner: Option<&'a str>,
    converter: Converter<'a>,
}

impl Builder<'_> {
    /// `REVOKE` for a base item missing from the ACL (grant options included).
    fn revoke(&self, item: &str) -> Result<String> {
        let parsed = self.parse(item)?;
        let (privs, _) = self.converter.convert(parsed.rights, false);
        if privs.is_empty() {
            return Ok(String::new());
        }
        Ok(format!(
            "{}REVOKE {privs} ON {}FROM {};\n",
            self.prefix,
            self.object,
            grantee_sql(&parsed.grantee)
        ))
    }

    /// `GRANT`s for an ACL item missing from the base, and whether they are the
    /// owner's grants to itself (which pg_dump puts before all others).
    fn grant(&self, item: &str) -> Result<(bool, String)> {
        let parsed = self.parse(item)?;
        let (privs, privs_wgo) = self.converter.convert(parsed.rights, true);
        let mut sql = String::new();
        if privs.is_empty() && privs_wgo.is_empty() {
            return Ok((false, sql));
        }
        let grantor = match (parsed.grantor.is_empty(), self.owner) {
            (true, Some(owner)) => owner.to_string(),
            _ => parsed.grantor,
        };
        let own_grant = self
            .owner
            .is_some_and(|o| parsed.grantee == o && grantor == o);
        // Only the grantor can have made the grant, so restore must act as them.
        let switch_user = !grantor.is_empty() && self.owner != Some(grantor.as_str());
        if switch_user {
            sql.push_str(&format!(
                "SET SESSION AUTHORIZATION {};\n",
                quote_ident(&grantor)
            ));
        }
        let (prefix, object) = (self.prefix, &self.object);
        let grantee = grantee_sql(&parsed.grantee);
        if !privs.is_empty() {
            sql.push_str(&format!("{prefix}GRANT {privs} ON {object}TO {grantee};\n"));
        }
        if !privs_wgo.is_empty() {
            sql.push_str(&format!(
                "{prefix}GRANT {privs_wgo} ON {object}TO {grantee} WITH GRANT OPTION;\n"
            ));
        }
        if switch_user {
            sql.push_str("RESET SESSION AUTHORIZATION;\n");
        }
        Ok((own_grant, sql))
    }

    fn parse<'i>(&self, item: &'i str) -> Result<AclItem<'i>> {
        parse_item(item).ok_or_else(|| {
            let t = self.target;
            let what = if t.name.is_empty() {
                t.kind.to_string()
            } else {
                format!("{} {}", t.kind, t.name)
            };
            Error::internal(format!("could not parse ACL item {item:?} of {what}"))
        })
    }
}

/// `<kind> [<schema>.]<name> ` as placed between `ON` and `TO`/`FROM`. The trailing
/// space is there even for an empty name (default ACLs) up to pg_dump 15; 16 and
/// later leave it out then.
fn object_ref(target: &AclTarget<'_>, server_version_num: i32) -> String {
    let mut s = format!("{} ", target.kind);
    if let Some(nsp) = target.namespace.filter(|n| !n.is_empty()) {
        s.push_str(&quote_ident(nsp));
        s.push('.');
    }
    s.push_str(target.name);
    if !(target.name.is_empty() && server_version_num >= 160_000) {
        s.push(' ');
    }
    s
}

/// `PUBLIC` for the empty grantee, else the quoted role name.
fn grantee_sql(grantee: &str) -> String {
    if grantee.is_empty() {
        "PUBLIC".to_string()
    } else {
        quote_ident(grantee)
    }
}

/// The privilege letters of a kind and their keywords, in the order pg_dump lists
/// them (which is not the order of the letters in an aclitem). `None` for a kind
/// pg_dump does not know.
fn privileges_of(
    kind: &str,
    column: bool,
    server_version_num: i32,
) -> Option<Vec<(char, &'static str)>> {
    let privs = match kind {
        "TABLE" | "TABLES" => {
            let mut p = vec![('r', "SELECT"), ('a', "INSERT"), ('x', "REFERENCES")];
            // DELETE, TRIGGER, TRUNCATE and MAINTAIN do not apply to columns.
            if !column {
                p.extend([('d', "DELETE"), ('t', "TRIGGER"), ('D', "TRUNCATE")]);
                // Before 17 there is no `m`; listing it would make ALL unreachable.
                if server_version_num >= 170_000 {
                    p.push(('m', "MAINTAIN"));
                }
            }
            p.push(('w', "UPDATE"));
            p
        }
        "SEQUENCE" | "SEQUENCES" => vec![('r', "SELECT"), ('U', "USAGE"), ('w', "UPDATE")],
        "FUNCTION" | "FUNCTIONS" | "PROCEDURE" | "PROCEDURES" => vec![('X', "EXECUTE")],
        "SCHEMA" | "SCHEMAS" => vec![('C', "CREATE"), ('U', "USAGE")],
        "DATABASE" => vec![('C', "CREATE"), ('c', "CONNECT"), ('T', "TEMPORARY")],
        "TABLESPACE" => vec![('C', "CREATE")],
        "LANGUAGE" | "TYPE" | "TYPES" | "FOREIGN DATA WRAPPER" | "FOREIGN SERVER" => {
            vec![('U', "USAGE")]
        }
        "FOREIGN TABLE" => vec![('r', "SELECT")],
        "PARAMETER" => vec![('s', "SET"), ('A', "ALTER SYSTEM")],
        "LARGE OBJECT" | "LARGE OBJECTS" => vec![('r', "SELECT"), ('w', "UPDATE")],
        _ => return None,
    };
    Some(privs)
}

/// Turns privilege letters into GRANT/REVOKE keyword lists for one kind.
struct Converter<'a> {
    privileges: &'a [(char, &'static str)],
    subname: Option<&'a str>,
}

impl Converter<'_> {
    /// The privileges in `rights` (e.g. `a*rw`) as `(plain, with_grant_option)`
    /// comma-separated keyword lists. Without `split_grant_option` every privilege
    /// goes to `plain`. A list holding every privilege of the kind becomes `ALL`
    /// (`ALL(col)` for a column); for that, a privilege must be wholly in one list.
    fn convert(&self, rights: &str, split_grant_option: bool) -> (String, String) {
        let mut plain = Vec::new();
        let mut with_go = Vec::new();
        let (mut all_plain, mut all_with_go) = (true, true);
        for &(code, keyword) in self.privileges {
            let Some(pos) = rights.find(code) else {
                all_plain = false;
                all_with_go = false;
                continue;
            };
            let has_go = rights[pos + code.len_utf8()..].starts_with('*');
            if has_go && split_grant_option {
                with_go.push(self.keyword(keyword));
                all_plain = false;
            } else {
                plain.push(self.keyword(keyword));
                all_with_go = false;
            }
        }
        if all_with_go {
            (String::new(), self.keyword("ALL"))
        } else if all_plain {
            (self.keyword("ALL"), String::new())
        } else {
            (plain.join(","), with_go.join(","))
        }
    }

    /// `keyword`, followed by `(col)` for column privileges.
    fn keyword(&self, keyword: &str) -> String {
        match self.subname {
            Some(col) => format!("{keyword}({col})"),
            None => keyword.to_string(),
        }
    }
}

/// One aclitem split into its parts.
#[derive(Debug, PartialEq, Eq)]
struct AclItem<'a> {
    /// Dequoted role name; empty for PUBLIC.
    grantee: String,
    /// Dequoted role name of the grantor.
    grantor: String,
    /// The privilege letters, each optionally followed by `*`.
    rights: &'a str,
}

/// Splits `grantee=rights/grantor`. Role names may be double-quoted with `""` for an
/// embedded quote, so `=` and `/` inside them do not count.
fn parse_item(item: &str) -> Option<AclItem<'_>> {
    let (grantee, rest) = read_role(item);
    let after_eq = rest.strip_prefix('=')?;
    // Privilege letters never include `/`, so the first one ends them.
    let (rights, grantor_part) = after_eq.split_once('/')?;
    let (grantor, tail) = read_role(grantor_part);
    if !tail.is_empty() {
        return None;
    }
    Some(AclItem {
        grantee,
        grantor,
        rights,
    })
}

/// Reads a role name up to an unquoted `=` or the end of `input`, removing quotes;
/// returns it and the unread rest. Mirrors pg_dump's `dequoteAclUserName`, including
/// treating an unterminated quote as running to the end.
fn read_role(input: &str) -> (String, &str) {
    let mut name = String::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c == '=' {
            return (name, &input[i..]);
        }
        chars.next();
        if c != '"' {
            name.push(c);
            continue;
        }
        loop {
            match chars.next() {
                None => return (name, ""),
                Some((_, '"')) => {
                    if chars.peek().is_some_and(|&(_, n)| n == '"') {
                        chars.next();
                        name.push('"');
                    } else {
                        break;
                    }
                }
                Some((_, ch)) => name.push(ch),
            }
        }
    }
    (name, "")
}

#[cfg(test)]
mod tests;
