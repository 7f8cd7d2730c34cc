//! Cluster-wide objects, as `pg_dumpall --globals-only` writes them: roles (with
//! their attributes, passwords, comments, labels and settings), role memberships,
//! privileges on configuration parameters (15+) and tablespaces.
//!
//! Unlike a database dump this is a flat script in pg_dumpall's fixed section order,
//! with no dependency sorting: roles first (so memberships and owners can name them),
//! then memberships, then parameter privileges, then tablespaces. Everything is read
//! in one read-only transaction.
//!
//! Passwords come from `pg_authid`, which only superusers may read. With
//! [`DumpOptions::no_role_passwords`] roles are read from `pg_roles` instead, which
//! works on managed services where the dumping role is no superuser, and no
//! `PASSWORD` clause is written. Password hashes never appear in errors or logs.

use super::{session, DumpOptions, DumpSummary};
use crate::conn::ConnOptions;
use crate::error::{Error, Result};
use crate::sql::{build_acl_commands, quote_ident, quote_literal_conn, AclTarget};
use std::collections::HashSet;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_postgres::{Client, Row};

/// The bootstrap superuser's OID, grantor of memberships made at initdb time.
const BOOTSTRAP_SUPERUSER: u32 = 10;

/// Dumps the cluster's global objects into `out`, as `pg_dumpall --globals-only`
/// (with the same `--clean`, `--if-exists`, `--no-privileges`, `--no-comments`,
/// `--data-only` and `--no-role-passwords` behavior).
///
/// # Errors
/// Connection, server and I/O errors; a usage error for options that select
/// database objects (`-n`, `-t`, ...), which have no meaning here.
pub async fn dump_globals<W>(conn: &ConnOptions, opts: &DumpOptions, out: W) -> Result<DumpSummary>
where
    W: AsyncWrite + Unpin + Send,
{
    check_options(opts)?;
    let client = conn.connect().await?;
    let version = begin(&client).await?;
    let key = session::restrict_key()?;
    let mut s = String::new();
    s.push_str("--\n-- PostgreSQL database cluster dump\n--\n\n");
    s.push_str(&format!("\\restrict {key}\n\n"));
    s.push_str("SET default_transaction_read_only = off;\n\n");
    s.push_str("SET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n\n");
    if !opts.data_only {
        if opts.clean {
            drop_tablespaces(&client, opts, &mut s).await?;
            drop_roles(&client, opts, &mut s).await?;
        }
        roles(&client, opts, version, &mut s).await?;
        memberships(&client, opts, version, &mut s).await?;
        if version >= 150000 && !opts.no_privileges {
            parameter_privileges(&client, version, &mut s).await?;
        }
        tablespaces(&client, opts, version, &mut s).await?;
    }
    s.push_str(&format!("\\unrestrict {key}\n\n"));
    s.push_str("--\n-- PostgreSQL database cluster dump complete\n--\n\n");
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| Error::postgres("ending the globals transaction", e))?;
    let mut out = out;
    out.write_all(s.as_bytes())
        .await
        .map_err(|e| Error::io("writing the dump", e))?;
    out.flush()
        .await
        .map_err(|e| Error::io("writing the dump", e))?;
    Ok(DumpSummary {
        tables: 0,
        data_bytes: 0,
        total_bytes: s.len() as u64,
    })
}

/// Options that choose database objects make no sense for globals.
fn check_options(opts: &DumpOptions) -> Result<()> {
    let selective = !opts.schemas.is_empty()
        || !opts.exclude_schemas.is_empty()
        || !opts.tables.is_empty()
        || !opts.exclude_tables.is_empty()
        || !opts.exclude_table_data.is_empty();
    if selective {
        return Err(Error::usage(
            "option --globals-only cannot be used with schema or table selection options",
        ));
    }
    if opts.create {
        return Err(Error::usage(
            "option --globals-only cannot be used with --create",
        ));
    }
    opts.validate()
}

/// Starts the read-only transaction (pg_dumpall's secure search path) and returns
/// `server_version_num`.
async fn begin(client: &Client) -> Result<i32> {
    for sql in [
        "SELECT pg_catalog.set_config('search_path', '', false)",
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    ] {
        client
            .batch_execute(sql)
            .await
            .map_err(|e| Error::postgres("starting the globals transaction", e))?;
    }
    let row = client
        .query_one(
            "SELECT pg_catalog.current_setting('server_version_num')::int4",
            &[],
        )
        .await
        .map_err(|e| Error::postgres("reading the server version", e))?;
    Ok(row.get(0))
}

async fn rows(client: &Client, what: &str, sql: &str) -> Result<Vec<Row>> {
    client
        .query(sql, &[])
        .await
        .map_err(|e| Error::postgres(format!("reading {what}"), e))
}

/// `pg_authid`, or `pg_roles` when passwords are not to be dumped (or readable).
fn role_catalog(opts: &DumpOptions) -> &'static str {
    if opts.no_role_passwords {
        "pg_catalog.pg_roles"
    } else {
        "pg_catalog.pg_authid"
    }
}

/// `DROP TABLESPACE` for every tablespace but the built-in ones.
async fn drop_tablespaces(client: &Client, opts: &DumpOptions, s: &mut String) -> Result<()> {
    let sql = "SELECT spcname FROM pg_catalog.pg_tablespace WHERE spcname !~ '^pg_' ORDER BY 1";
    let list = rows(client, "tablespaces", sql).await?;
    if !list.is_empty() {
        s.push_str("--\n-- Drop tablespaces\n--\n\n");
    }
    for row in &list {
        let name: String = row.get(0);
        s.push_str(&format!(
            "DROP TABLESPACE {}{};\n",
            if_exists(opts),
            quote_ident(&name)
        ));
    }
    s.push_str("\n\n");
    Ok(())
}

/// `DROP ROLE` for every role but the predefined `pg_*` ones.
async fn drop_roles(client: &Client, opts: &DumpOptions, s: &mut String) -> Result<()> {
    let sql = format!(
        "SELECT rolname FROM {} WHERE rolname !~ '^pg_' ORDER BY 1",
        role_catalog(opts)
    );
    let list = rows(client, "roles", &sql).await?;
    if !list.is_empty() {
        s.push_str("--\n-- Drop roles\n--\n\n");
    }
    for row in &list {
        let name: String = row.get(0);
        s.push_str(&format!(
            "DROP ROLE {}{};\n",
            if_exists(opts),
            quote_ident(&name)
        ));
    }
    s.push_str("\n\n");
    Ok(())
}

fn if_exists(opts: &DumpOptions) -> &'static str {
    if opts.if_exists {
        "IF EXISTS "
    } else {
        ""
    }
}

/// `CREATE ROLE` and `ALTER ROLE ... WITH` for every role, with comments and labels,
/// then each role's own settings (after all roles: settings may name other roles).
async fn roles(client: &Client, opts: &DumpOptions, version: i32, s: &mut String) -> Result<()> {
    // The comment comes from pg_authid's description whatever catalog is read.
    let sql = format!(
        "SELECT oid, rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, \
         rolconnlimit, rolpassword, rolvaliduntil::text AS rolvaliduntil, rolreplication, \
         rolbypassrls, pg_catalog.shobj_description(oid, 'pg_authid') AS rolcomment \
         FROM {} WHERE rolname !~ '^pg_' ORDER BY 2",
        role_catalog(opts)
    );
    let what = if opts.no_role_passwords {
        "roles"
    } else {
        "roles (pg_authid, readable by superusers only; --no-role-passwords reads pg_roles)"
    };
    let list = rows(client, what, &sql).await?;
    if !list.is_empty() {
        s.push_str("--\n-- Roles\n--\n\n");
    }
    let labels = shared_labels(client, "pg_authid").await?;
    for row in &list {
        let oid: u32 = row.get("oid");
        let name: String = row.get("rolname");
        s.push_str(&role_sql(row, &name, opts));
        if !opts.no_comments {
            if let Some(comment) = row.get::<_, Option<String>>("rolcomment") {
                s.push_str(&format!(
                    "COMMENT ON ROLE {} IS {};\n",
                    quote_ident(&name),
                    quote_literal_conn(&comment)
                ));
            }
        }
        s.push_str(&label_sql(&labels, oid, "ROLE", &name));
    }
    if !list.is_empty() {
        // pg_dumpall 15 added the blank line before this heading.
        if version >= 150000 {
            s.push('\n');
        }
        s.push_str("--\n-- User Configurations\n--\n");
    }
    for row in &list {
        let name: String = row.get("rolname");
        role_settings(client, opts, version, &name, s).await?;
    }
    s.push_str("\n\n");
    Ok(())
}

/// One role's `CREATE ROLE` and `ALTER ROLE ... WITH <attributes>`.
fn role_sql(row: &Row, name: &str, opts: &DumpOptions) -> String {
    let q = quote_ident(name);
    let flag = |col: &str, on: &'static str, off: &'static str| {
        if row.get::<_, bool>(col) {
            on
        } else {
            off
        }
    };
    let mut s = format!("CREATE ROLE {q};\nALTER ROLE {q} WITH");
    for (col, on, off) in [
        ("rolsuper", " SUPERUSER", " NOSUPERUSER"),
        ("rolinherit", " INHERIT", " NOINHERIT"),
        ("rolcreaterole", " CREATEROLE", " NOCREATEROLE"),
        ("rolcreatedb", " CREATEDB", " NOCREATEDB"),
        ("rolcanlogin", " LOGIN", " NOLOGIN"),
        ("rolreplication", " REPLICATION", " NOREPLICATION"),
        ("rolbypassrls", " BYPASSRLS", " NOBYPASSRLS"),
    ] {
        s.push_str(flag(col, on, off));
    }
    let limit: i32 = row.get("rolconnlimit");
    if limit != -1 {
        s.push_str(&format!(" CONNECTION LIMIT {limit}"));
    }
    if !opts.no_role_passwords {
        if let Some(password) = row.get::<_, Option<String>>("rolpassword") {
            s.push_str(&format!(" PASSWORD {}", quote_literal_conn(&password)));
        }
    }
    if let Some(until) = row.get::<_, Option<String>>("rolvaliduntil") {
        s.push_str(&format!(" VALID UNTIL '{until}'"));
    }
    s.push_str(";\n");
    s
}

/// A role's settings outside any database (`ALTER ROLE r SET ...`); the
/// per-database ones come with `--create` dumps of each database.
async fn role_settings(
    client: &Client,
    opts: &DumpOptions,
    version: i32,
    name: &str,
    s: &mut String,
) -> Result<()> {
    let sql = format!(
        "SELECT pg_catalog.unnest(setconfig) FROM pg_catalog.pg_db_role_setting \
         WHERE setdatabase = 0 AND setrole = (SELECT oid FROM {} WHERE rolname = $1)",
        role_catalog(opts)
    );
    let list = client
        .query(&sql, &[&name])
        .await
        .map_err(|e| Error::postgres("reading role settings", e))?;
    if !list.is_empty() {
        s.push_str(&format!(
            "\n--\n-- User Config \"{}\"\n--\n\n",
            name.replace(['\n', '\r'], " ")
        ));
    }
    for row in &list {
        let item: String = row.get(0);
        s.push_str(&alter_config_command("ROLE", name, None, &item, version));
    }
    Ok(())
}

/// `GRANT role TO member` for every membership, as the server's pg_dumpall writes
/// them.
async fn memberships(
    client: &Client,
    opts: &DumpOptions,
    version: i32,
    s: &mut String,
) -> Result<()> {
    let catalog = role_catalog(opts);
    // 16 added grant options and made grantors meaningful (and dumped).
    let (options, order) = if version >= 160000 {
        ("a.inherit_option, a.set_option", "1, 2, 4")
    } else {
        ("true AS inherit_option, true AS set_option", "1, 2, 3")
    };
    let sql = format!(
        "SELECT ur.rolname AS role, um.rolname AS member, ug.oid AS grantorid, \
         ug.rolname AS grantor, a.admin_option, {options} \
         FROM pg_catalog.pg_auth_members a \
         LEFT JOIN {catalog} ur ON ur.oid = a.roleid \
         LEFT JOIN {catalog} um ON um.oid = a.member \
         LEFT JOIN {catalog} ug ON ug.oid = a.grantor \
         WHERE NOT (ur.rolname ~ '^pg_' AND um.rolname ~ '^pg_') \
         ORDER BY {order}"
    );
    let list = rows(client, "role memberships", &sql).await?;
    if !list.is_empty() {
        s.push_str("--\n-- Role memberships\n--\n\n");
    }
    // Memberships of one role are adjacent; a grantor must hold ADMIN OPTION before
    // its grants are replayed, so 16+ writes them in passes (pg_dumpall's order).
    let mut start = 0;
    while start < list.len() {
        let role: Option<String> = list[start].get("role");
        let end = (start..list.len())
            .find(|&i| list[i].get::<_, Option<String>>("role") != role)
            .unwrap_or(list.len());
        membership_group(&list[start..end], version, s)?;
        start = end;
    }
    s.push_str("\n\n");
    Ok(())
}

/// The memberships of one role.
fn membership_group(group: &[Row], version: i32, s: &mut String) -> Result<()> {
    let dump_grantors = version >= 160000;
    let mut done = vec![false; group.len()];
    let mut admins: HashSet<String> = HashSet::new();
    let mut remaining = group.len();
    while remaining > 0 {
        let before = remaining;
        for (i, row) in group.iter().enumerate() {
            if done[i] {
                continue;
            }
            let (Some(role), Some(member)) = (
                row.get::<_, Option<String>>("role"),
                row.get::<_, Option<String>>("member"),
            ) else {
                // A role dropped concurrently: pg_dumpall warns and skips it.
                tracing::warn!("found orphaned pg_auth_members entry");
                done[i] = true;
                remaining -= 1;
                continue;
            };
            let grantor: Option<String> = row.get("grantor");
            let grantor_id: Option<u32> = row.get("grantorid");
            if dump_grantors
                && grantor_id != Some(BOOTSTRAP_SUPERUSER)
                && !grantor.as_ref().is_some_and(|g| admins.contains(g))
            {
                continue;
            }
            done[i] = true;
            remaining -= 1;
            let admin: bool = row.get("admin_option");
            if admin {
                admins.insert(member.clone());
            }
            s.push_str(&grant_sql(
                row,
                &role,
                &member,
                admin,
                grantor.as_deref(),
                version,
            ));
        }
        if remaining == before {
            let role: Option<String> = group[0].get("role");
            return Err(Error::unsupported(format!(
                "could not find a legal dump ordering for memberships in role \"{}\"",
                role.unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// One `GRANT role TO member [WITH ...] [GRANTED BY ...];`.
fn grant_sql(
    row: &Row,
    role: &str,
    member: &str,
    admin: bool,
    grantor: Option<&str>,
    version: i32,
) -> String {
    let mut s = format!("GRANT {} TO {}", quote_ident(role), quote_ident(member));
    if version >= 160000 {
        let mut options = Vec::new();
        if admin {
            options.push("ADMIN OPTION");
        }
        options.push(if row.get::<_, bool>("inherit_option") {
            "INHERIT TRUE"
        } else {
            "INHERIT FALSE"
        });
        if !row.get::<_, bool>("set_option") {
            options.push("SET FALSE");
        }
        s.push_str(&format!(" WITH {}", options.join(", ")));
    } else if admin {
        s.push_str(" WITH ADMIN OPTION");
    }
    if let Some(g) = grantor {
        s.push_str(&format!(" GRANTED BY {}", quote_ident(g)));
    }
    s.push_str(";\n");
    s
}

/// `GRANT SET / ALTER SYSTEM ON PARAMETER` (15+), as differences from the default.
async fn parameter_privileges(client: &Client, version: i32, s: &mut String) -> Result<()> {
    let sql = "SELECT parname, pg_catalog.pg_get_userbyid(10) AS parowner, \
               paracl::text[] AS paracl, pg_catalog.acldefault('p', 10)::text[] AS acldefault \
               FROM pg_catalog.pg_parameter_acl ORDER BY 1";
    let list = rows(client, "parameter privileges", sql).await?;
    if !list.is_empty() {
        s.push_str("--\n-- Role privileges on configuration parameters\n--\n\n");
    }
    for row in &list {
        let name: String = row.get("parname");
        let owner: String = row.get("parowner");
        let Some(acl) = row.get::<_, Option<Vec<String>>>("paracl") else {
            continue;
        };
        let base: Vec<String> = row.get("acldefault");
        let q = quote_ident(&name);
        let target = AclTarget {
            kind: "PARAMETER",
            name: &q,
            subname: None,
            namespace: None,
            owner: Some(&owner),
        };
        s.push_str(&build_acl_commands(&target, &acl, &base, version)?);
    }
    s.push_str("\n\n");
    Ok(())
}

/// `CREATE TABLESPACE ... OWNER ... LOCATION ...` with options, privileges,
/// comments and labels, for every tablespace but the built-in ones.
async fn tablespaces(
    client: &Client,
    opts: &DumpOptions,
    version: i32,
    s: &mut String,
) -> Result<()> {
    let sql = "SELECT oid, spcname, pg_catalog.pg_get_userbyid(spcowner) AS spcowner, \
               pg_catalog.pg_tablespace_location(oid) AS location, spcacl::text[] AS spcacl, \
               pg_catalog.acldefault('t', spcowner)::text[] AS acldefault, \
               pg_catalog.array_to_string(spcoptions, ', ') AS options, \
               pg_catalog.shobj_description(oid, 'pg_tablespace') AS description \
               FROM pg_catalog.pg_tablespace WHERE spcname !~ '^pg_' ORDER BY 1";
    let list = rows(client, "tablespaces", sql).await?;
    if !list.is_empty() {
        s.push_str("--\n-- Tablespaces\n--\n\n");
    }
    let labels = shared_labels(client, "pg_tablespace").await?;
    for row in &list {
        let oid: u32 = row.get("oid");
        let name: String = row.get("spcname");
        let owner: String = row.get("spcowner");
        let location: String = row.get("location");
        let q = quote_ident(&name);
        s.push_str(&format!(
            "CREATE TABLESPACE {q} OWNER {} LOCATION {};\n",
            quote_ident(&owner),
            quote_literal_conn(&location)
        ));
        if let Some(options) = row
            .get::<_, Option<String>>("options")
            .filter(|o| !o.is_empty())
        {
            s.push_str(&format!("ALTER TABLESPACE {q} SET ({options});\n"));
        }
        if !opts.no_privileges {
            if let Some(acl) = row.get::<_, Option<Vec<String>>>("spcacl") {
                let base: Vec<String> = row.get("acldefault");
                let target = AclTarget {
                    kind: "TABLESPACE",
                    name: &q,
                    subname: None,
                    namespace: None,
                    owner: Some(&owner),
                };
                s.push_str(&build_acl_commands(&target, &acl, &base, version)?);
            }
        }
        if !opts.no_comments {
            if let Some(c) = row
                .get::<_, Option<String>>("description")
                .filter(|c| !c.is_empty())
            {
                s.push_str(&format!(
                    "COMMENT ON TABLESPACE {q} IS {};\n",
                    quote_literal_conn(&c)
                ));
            }
        }
        s.push_str(&label_sql(&labels, oid, "TABLESPACE", &name));
    }
    s.push_str("\n\n");
    Ok(())
}

/// Security labels of one shared catalog's objects: (objoid, provider, label).
async fn shared_labels(client: &Client, catalog: &str) -> Result<Vec<(u32, String, String)>> {
    let sql = format!(
        "SELECT objoid, provider, label FROM pg_catalog.pg_shseclabel \
         WHERE classoid = 'pg_catalog.{catalog}'::pg_catalog.regclass ORDER BY objoid, provider"
    );
    Ok(rows(client, "security labels", &sql)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// pg_dump's `emitShSecLabels` for one object (labels cannot be tested without a
/// label provider; this follows pg_dumpall's code).
fn label_sql(labels: &[(u32, String, String)], oid: u32, kind: &str, name: &str) -> String {
    labels
        .iter()
        .filter(|(o, _, _)| *o == oid)
        .map(|(_, provider, label)| {
            format!(
                "SECURITY LABEL FOR {} ON {kind} {} IS {};\n",
                quote_ident(provider),
                quote_ident(name),
                quote_literal_conn(label)
            )
        })
        .collect()
}

/// pg_dump's `makeAlterConfigCommand`: `ALTER <kind> <name> [IN <kind2> <name2>] SET
/// <var> TO <value>;` from a `name=value` setting. Values of list variables are split
/// and each element quoted; others are one literal. `version` is the server's
/// `server_version_num` (18 added a list variable).
pub(crate) fn alter_config_command(
    kind: &str,
    name: &str,
    within: Option<(&str, &str)>,
    setting: &str,
    version: i32,
) -> String {
    let Some((var, value)) = setting.split_once('=') else {
        return String::new();
    };
    let mut s = format!("ALTER {kind} {} ", quote_ident(name));
    if let Some((kind2, name2)) = within {
        s.push_str(&format!("IN {kind2} {} ", quote_ident(name2)));
    }
    s.push_str(&format!("SET {} TO ", quote_ident(var)));
    if is_list_variable(var, version) {
        let items = split_guc_list(value).unwrap_or_default();
        let quoted: Vec<String> = items.iter().map(|i| quote_literal_conn(i)).collect();
        s.push_str(&quoted.join(", "));
    } else {
        s.push_str(&quote_literal_conn(value));
    }
    s.push_str(";\n");
    s
}

/// pg_dump's `variable_is_guc_list_quote`.
fn is_list_variable(var: &str, version: i32) -> bool {
    let var = var.to_ascii_lowercase();
    matches!(
        var.as_str(),
        "local_preload_libraries"
            | "search_path"
            | "session_preload_libraries"
            | "shared_preload_libraries"
            | "temp_tablespaces"
            | "unix_socket_directories"
    ) || (version >= 180000 && var == "oauth_validator_libraries")
}

/// pg_dump's `SplitGUCList` with `,`: elements separated by commas and whitespace,
/// double-quoted ones with `""` for a quote. `None` on a syntax error.
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
        let mut item = String::new();
        if chars[i] == '"' {
            i += 1;
            loop {
                let c = *chars.get(i)?;
                i += 1;
                if c == '"' {
                    if chars.get(i) == Some(&'"') {
                        item.push('"');
                        i += 1;
                    } else {
                        break;
                    }
                } else {
                    item.push(c);
                }
            }
        } else {
            while i < chars.len() && chars[i] != ',' && !chars[i].is_ascii_whitespace() {
                item.push(chars[i]);
                i += 1;
            }
            if item.is_empty() {
                return None;
            }
        }
        skip_space(&mut i);
        out.push(item);
        if i == chars.len() {
            return Some(out);
        }
        if chars[i] != ',' {
            return None;
        }
        i += 1;
        skip_space(&mut i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guc_lists_split_like_pg_dump() {
        assert_eq!(
            split_guc_list("a, \"$user\", \"we\"\"ird\" ,public").unwrap(),
            ["a", "$user", "we\"ird", "public"]
        );
        assert_eq!(split_guc_list("  ").unwrap(), Vec::<String>::new());
        assert!(split_guc_list("a,,b").is_none());
    }

    #[test]
    fn config_commands_quote_like_pg_dump() {
        assert_eq!(
            alter_config_command("ROLE", "Bob", None, "search_path=a, \"$user\"", 150000),
            "ALTER ROLE \"Bob\" SET search_path TO 'a', '$user';\n"
        );
        assert_eq!(
            alter_config_command("ROLE", "r", Some(("DATABASE", "d")), "work_mem=8MB", 150000),
            "ALTER ROLE r IN DATABASE d SET work_mem TO '8MB';\n"
        );
        assert_eq!(
            alter_config_command("DATABASE", "d", None, "x.y=a\\b", 150000),
            "ALTER DATABASE d SET \"x.y\" TO E'a\\\\b';\n"
        );
    }
}
