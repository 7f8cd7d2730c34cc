//! Renders entries as pg_dump's plain-format archiver does: header, SET block,
//! optional DROPs, then the main, ACL and post-ACL passes, then the footer.
//!
//! Rendering is pure: it produces the dump's text as ordered [`Piece`]s, where each
//! table's data is a placeholder streamed later by [`super::output`]. Concatenated, the
//! pieces are exactly the plain-format dump; they are also the segments of a backup.

use super::emit::{Entry, Pass};
use super::DumpOptions;
use crate::sql::quote_ident;

/// A part of the rendered dump.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    /// SQL text.
    Text(String),
    /// One table's data.
    Copy(CopyPiece),
    /// The contents of large objects (a `BLOBS` entry).
    LargeObjects(LargeObjectsPiece),
}

/// A `BLOBS` entry: `header`, then `BEGIN;`, each object's contents read from the
/// server in pg_dump's `lo_open`/`lowrite`/`lo_close` form, then `COMMIT;`.
#[derive(Debug, Clone)]
pub(crate) struct LargeObjectsPiece {
    /// The entry's comment header.
    pub header: String,
    /// The large objects, in output order.
    pub oids: Vec<u32>,
}

/// One table's data: `header`, then the rows `COPY ... TO stdout` produces, then
/// the `\.` terminator and two blank lines.
#[derive(Debug, Clone)]
pub(crate) struct CopyPiece {
    /// The entry's comment header and the `COPY ... FROM stdin;` line.
    pub header: String,
    /// The extraction query.
    pub copy_to: String,
    pub schema: String,
    pub table: String,
    /// Estimated size in bytes, to schedule big tables first.
    pub estimated_bytes: i64,
}

/// The text that ends every COPY block.
pub(crate) const COPY_END: &str = "\\.\n\n\n";

/// Where an entry's text lies: which piece, and the byte range within a text piece
/// (for a COPY piece: the whole piece).
#[derive(Debug, Clone)]
pub(crate) struct TocRecord {
    pub piece: usize,
    pub offset: usize,
    pub len: usize,
    pub desc: &'static str,
    pub tag: String,
    pub namespace: Option<String>,
    /// The entry's DROP statement as `--clean` writes it without `--if-exists`.
    pub drop: String,
}

/// A rendered dump.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rendered {
    pub pieces: Vec<Piece>,
    pub toc: Vec<TocRecord>,
}

/// Renders `entries` into pieces.
pub(crate) fn render(
    entries: &[Entry],
    opts: &DumpOptions,
    version: i32,
    server_version: &str,
    restrict_key: &str,
) -> Rendered {
    let mut r = Renderer {
        opts,
        version,
        restrict_key: restrict_key.to_string(),
        cur_tablespace: None,
        cur_table_am: None,
        text: String::new(),
        out: Rendered::default(),
    };
    r.text.push_str("--\n-- PostgreSQL database dump\n--\n\n");
    r.text.push_str(&format!("\\restrict {restrict_key}\n\n"));
    r.text.push_str(&format!(
        "-- Dumped from database version {server_version}\n-- Dumped by pgbm version {}\n\n",
        env!("CARGO_PKG_VERSION")
    ));
    r.set_block();
    if opts.clean {
        r.drops(entries);
    }
    for pass in [Pass::Main, Pass::Acl, Pass::PostAcl] {
        for e in entries.iter().filter(|e| e.pass == pass) {
            if required(opts, e) {
                r.entry(e);
            }
        }
    }
    r.text
        .push_str("--\n-- PostgreSQL database dump complete\n--\n\n");
    r.text.push_str(&format!("\\unrestrict {restrict_key}\n\n"));
    r.flush_text();
    r.out
}

/// Whether the mode (`--schema-only`, `--data-only`, `--create`) prints `e`.
fn required(opts: &DumpOptions, e: &Entry) -> bool {
    // With --create, the database itself is written even in a data-only dump; its
    // comment, labels and ACL are schema, so they are not.
    if matches!(e.desc, "DATABASE" | "DATABASE PROPERTIES") {
        return opts.create;
    }
    let database_level =
        matches!(e.desc, "COMMENT" | "ACL" | "SECURITY LABEL") && e.tag.starts_with("DATABASE ");
    if database_level {
        return opts.create && !opts.data_only;
    }
    if opts.data_only {
        e.is_data
    } else if opts.schema_only {
        !e.is_data
    } else {
        true
    }
}

/// Rendering state: the archiver's "current" tablespace and access method, and the
/// text piece being built.
struct Renderer<'a> {
    opts: &'a DumpOptions,
    version: i32,
    restrict_key: String,
    cur_tablespace: Option<String>,
    cur_table_am: Option<String>,
    text: String,
    out: Rendered,
}

impl Renderer<'_> {
    fn flush_text(&mut self) {
        if !self.text.is_empty() {
            let text = std::mem::take(&mut self.text);
            self.out.pieces.push(Piece::Text(text));
        }
    }

    fn set_block(&mut self) {
        self.text.push_str(
            "SET statement_timeout = 0;\nSET lock_timeout = 0;\n\
             SET idle_in_transaction_session_timeout = 0;\n",
        );
        if self.version >= 170000 {
            self.text.push_str("SET transaction_timeout = 0;\n");
        }
        self.text.push_str(
            "SET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n\
             SELECT pg_catalog.set_config('search_path', '', false);\n\
             SET check_function_bodies = false;\nSET xmloption = content;\n\
             SET client_min_messages = warning;\nSET row_security = off;\n\n",
        );
    }

    fn drops(&mut self, entries: &[Entry]) {
        for e in entries.iter().rev() {
            if !required(self.opts, e) || e.drop.is_empty() {
                continue;
            }
            if self.opts.create && !matches!(e.desc, "DATABASE" | "DATABASE PROPERTIES") {
                continue;
            }
            let stmt = if self.opts.if_exists {
                with_if_exists(e.desc, &e.drop)
            } else {
                e.drop.clone()
            };
            self.text.push_str(&stmt);
        }
    }

    fn entry(&mut self, e: &Entry) {
        if let Some(ts) = &e.tablespace {
            if self.cur_tablespace.as_ref() != Some(ts) {
                let value = if ts.is_empty() {
                    "''".to_string()
                } else {
                    quote_ident(ts)
                };
                self.text
                    .push_str(&format!("SET default_tablespace = {value};\n\n"));
                self.cur_tablespace = Some(ts.clone());
            }
        }
        if let Some(am) = &e.table_am {
            if self.cur_table_am.as_ref() != Some(am) {
                self.text.push_str(&format!(
                    "SET default_table_access_method = {};\n\n",
                    quote_ident(am)
                ));
                self.cur_table_am = Some(am.clone());
            }
        }
        let header = self.header(e);
        if let Some(copy) = &e.copy {
            self.flush_text();
            self.out.toc.push(TocRecord {
                piece: self.out.pieces.len(),
                offset: 0,
                len: 0,
                desc: e.desc,
                tag: e.tag.clone(),
                namespace: e.namespace.clone(),
                drop: e.drop.clone(),
            });
            self.out.pieces.push(Piece::Copy(CopyPiece {
                header: format!("{header}{}", copy.copy_from),
                copy_to: copy.copy_to.clone(),
                schema: e.namespace.clone().unwrap_or_default(),
                table: e.tag.clone(),
                estimated_bytes: copy.estimated_bytes,
            }));
            return;
        }
        if let Some(oids) = &e.blobs {
            self.flush_text();
            self.out.toc.push(TocRecord {
                piece: self.out.pieces.len(),
                offset: 0,
                len: 0,
                desc: e.desc,
                tag: e.tag.clone(),
                namespace: e.namespace.clone(),
                drop: e.drop.clone(),
            });
            self.out.pieces.push(Piece::LargeObjects(LargeObjectsPiece {
                header,
                oids: oids.clone(),
            }));
            return;
        }
        let start = self.text.len();
        self.text.push_str(&header);
        if !e.create.is_empty() {
            self.text.push_str(&format!("{}\n\n", e.create));
        }
        if !self.opts.no_owner && !e.owner.is_empty() && !e.drop.is_empty() {
            if let Some(obj) = &e.owner_object {
                self.text.push_str(&format!(
                    "ALTER {obj} OWNER TO {};\n\n",
                    quote_ident(&e.owner)
                ));
            }
        }
        if !e.after_owner.is_empty() {
            self.text.push_str(&format!("{}\n\n", e.after_owner));
        }
        if e.desc == "DATABASE" || e.desc == "DATABASE PROPERTIES" {
            self.reconnect(&e.tag);
        }
        self.out.toc.push(TocRecord {
            piece: self.out.pieces.len(),
            offset: start,
            len: self.text.len() - start,
            desc: e.desc,
            tag: e.tag.clone(),
            namespace: e.namespace.clone(),
            drop: e.drop.clone(),
        });
    }

    fn header(&self, e: &Entry) -> String {
        let prefix = if e.desc == "TABLE DATA" || e.blobs.is_some() {
            "Data for "
        } else {
            ""
        };
        let owner = if self.opts.no_owner || e.ownerless {
            "-".to_string()
        } else {
            sanitize(&e.owner)
        };
        let mut header = format!(
            "--\n-- {prefix}Name: {}; Type: {}; Schema: {}; Owner: {owner}",
            sanitize(&e.tag),
            e.desc,
            e.namespace.as_deref().map_or("-".to_string(), sanitize),
        );
        if let Some(ts) = e.tablespace.as_deref().filter(|t| !t.is_empty()) {
            header.push_str(&format!("; Tablespace: {}", sanitize(ts)));
        }
        header.push_str("\n--\n\n");
        header
    }

    /// `\\connect` to the new database, as pg_dump writes it, then the SET block again.
    fn reconnect(&mut self, dbname: &str) {
        let key = self.restrict_key.clone();
        let simple = !dbname.is_empty()
            && dbname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        let connect = if simple {
            format!("\\connect {}\n", quote_ident(dbname))
        } else {
            let conninfo = format!(
                "dbname='{}'",
                dbname.replace('\\', "\\\\").replace('\'', "\\'")
            );
            format!(
                "\\encoding SQL_ASCII\n\\connect -reuse-previous=on \"{}\"\n",
                conninfo.replace('"', "\"\"")
            )
        };
        self.text.push_str(&format!(
            "\\unrestrict {key}\n{connect}\\restrict {key}\n\n"
        ));
        self.cur_tablespace = None;
        self.cur_table_am = None;
        self.set_block();
    }
}

/// Replaces newlines in names, as pg_dump does in comment headers.
fn sanitize(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// pg_dump's `--if-exists` rewrite of the DROP statement `drop` of an entry of type
/// `desc`.
pub(crate) fn with_if_exists(desc: &str, drop: &str) -> String {
    if desc.starts_with("BLOB") {
        return super::kinds::largeobjects::drop_if_exists(drop);
    }
    if drop.starts_with("--") {
        return drop.to_string();
    }
    let (head, rest) = match drop.strip_prefix("ALTER TABLE") {
        Some(rest) => ("ALTER TABLE IF EXISTS".to_string(), rest),
        None => (String::new(), drop),
    };
    if matches!(desc, "DEFAULT" | "DATABASE PROPERTIES") {
        return format!("{head}{rest}");
    }
    let marker = if desc.ends_with("CONSTRAINT") {
        "DROP CONSTRAINT".to_string()
    } else {
        format!("DROP {desc}")
    };
    match rest.find(&marker) {
        Some(pos) => format!(
            "{head}{}{marker} IF EXISTS{}",
            &rest[..pos],
            &rest[pos + marker.len()..]
        ),
        None => format!("{head}{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_exists_rewrites_like_pg_dump() {
        assert_eq!(
            with_if_exists("TABLE", "DROP TABLE app.t;\n"),
            "DROP TABLE IF EXISTS app.t;\n"
        );
        assert_eq!(
            with_if_exists(
                "FK CONSTRAINT",
                "ALTER TABLE ONLY app.c DROP CONSTRAINT c_fk;\n"
            ),
            "ALTER TABLE IF EXISTS ONLY app.c DROP CONSTRAINT IF EXISTS c_fk;\n"
        );
        assert_eq!(
            with_if_exists(
                "DEFAULT",
                "ALTER TABLE app.c ALTER COLUMN s DROP DEFAULT;\n"
            ),
            "ALTER TABLE IF EXISTS app.c ALTER COLUMN s DROP DEFAULT;\n"
        );
        assert_eq!(
            with_if_exists(
                "SCHEMA",
                "-- *not* dropping schema, since initdb creates it\n"
            ),
            "-- *not* dropping schema, since initdb creates it\n"
        );
    }
}
