//! Writes entries as pg_dump's plain-format archiver does: header, SET block,
//! optional DROPs, then the main, ACL and post-ACL passes, then the footer.

use super::emit::{Entry, Pass};
use super::DumpOptions;
use crate::error::{Error, Result};
use crate::sql::quote_ident;
use bytes::Bytes;
use futures_util::{pin_mut, TryStreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_postgres::Client;

/// Output state and counters.
pub(crate) struct Renderer<'a, W> {
    out: W,
    opts: &'a DumpOptions,
    version: i32,
    server_version: String,
    restrict_key: String,
    cur_tablespace: Option<String>,
    cur_table_am: Option<String>,
    /// Bytes of COPY data written.
    pub data_bytes: u64,
    /// Bytes written in all.
    pub total_bytes: u64,
    /// Tables whose data was written.
    pub tables: u64,
}

impl<'a, W: AsyncWrite + Unpin> Renderer<'a, W> {
    /// A renderer writing to `out`.
    pub(crate) fn new(
        out: W,
        opts: &'a DumpOptions,
        version: i32,
        server_version: String,
        restrict_key: String,
    ) -> Self {
        Renderer {
            out,
            opts,
            version,
            server_version,
            restrict_key,
            cur_tablespace: None,
            cur_table_am: None,
            data_bytes: 0,
            total_bytes: 0,
            tables: 0,
        }
    }

    async fn write(&mut self, s: &str) -> Result<()> {
        self.write_bytes(s.as_bytes()).await
    }

    async fn write_bytes(&mut self, b: &[u8]) -> Result<()> {
        self.out
            .write_all(b)
            .await
            .map_err(|e| Error::io("writing the dump", e))?;
        self.total_bytes += b.len() as u64;
        Ok(())
    }

    /// Whether the mode (`--schema-only`, `--data-only`, `--create`) prints `e`.
    fn required(&self, e: &Entry) -> bool {
        let database_level = matches!(e.desc, "DATABASE" | "DATABASE PROPERTIES")
            || (matches!(e.desc, "COMMENT" | "ACL") && e.tag.starts_with("DATABASE "));
        if database_level {
            return self.opts.create && !self.opts.data_only;
        }
        if self.opts.data_only {
            e.is_data
        } else if self.opts.schema_only {
            !e.is_data
        } else {
            true
        }
    }

    /// Writes the whole dump; `client` streams the table data.
    pub(crate) async fn render(&mut self, entries: &[Entry], client: &Client) -> Result<()> {
        self.write("--\n-- PostgreSQL database dump\n--\n\n")
            .await?;
        let key = self.restrict_key.clone();
        self.write(&format!("\\restrict {key}\n\n")).await?;
        let header = format!(
            "-- Dumped from database version {}\n-- Dumped by pgbm version {}\n\n",
            self.server_version,
            env!("CARGO_PKG_VERSION")
        );
        self.write(&header).await?;
        self.set_block().await?;
        if self.opts.clean {
            self.drops(entries).await?;
        }
        for pass in [Pass::Main, Pass::Acl, Pass::PostAcl] {
            for e in entries.iter().filter(|e| e.pass == pass) {
                if self.required(e) {
                    self.entry(e, client).await?;
                }
            }
        }
        self.write("--\n-- PostgreSQL database dump complete\n--\n\n")
            .await?;
        self.write(&format!("\\unrestrict {key}\n\n")).await?;
        self.out
            .flush()
            .await
            .map_err(|e| Error::io("writing the dump", e))?;
        Ok(())
    }

    async fn set_block(&mut self) -> Result<()> {
        let mut s = String::from(
            "SET statement_timeout = 0;\nSET lock_timeout = 0;\n\
             SET idle_in_transaction_session_timeout = 0;\n",
        );
        if self.version >= 170000 {
            s.push_str("SET transaction_timeout = 0;\n");
        }
        s.push_str(
            "SET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n\
             SELECT pg_catalog.set_config('search_path', '', false);\n\
             SET check_function_bodies = false;\nSET xmloption = content;\n\
             SET client_min_messages = warning;\nSET row_security = off;\n\n",
        );
        self.write(&s).await
    }

    async fn drops(&mut self, entries: &[Entry]) -> Result<()> {
        for e in entries.iter().rev() {
            if !self.required(e) || e.drop.is_empty() {
                continue;
            }
            if self.opts.create && !matches!(e.desc, "DATABASE" | "DATABASE PROPERTIES") {
                continue;
            }
            let stmt = if self.opts.if_exists {
                with_if_exists(e)
            } else {
                e.drop.clone()
            };
            self.write(&stmt).await?;
        }
        Ok(())
    }

    async fn entry(&mut self, e: &Entry, client: &Client) -> Result<()> {
        if let Some(ts) = &e.tablespace {
            if self.cur_tablespace.as_ref() != Some(ts) {
                let value = if ts.is_empty() {
                    "''".to_string()
                } else {
                    quote_ident(ts)
                };
                self.write(&format!("SET default_tablespace = {value};\n\n"))
                    .await?;
                self.cur_tablespace = Some(ts.clone());
            }
        }
        if let Some(am) = &e.table_am {
            if self.cur_table_am.as_ref() != Some(am) {
                self.write(&format!(
                    "SET default_table_access_method = {};\n\n",
                    quote_ident(am)
                ))
                .await?;
                self.cur_table_am = Some(am.clone());
            }
        }
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
        self.write(&header).await?;
        if let Some(copy) = &e.copy {
            self.write(&copy.copy_from).await?;
            self.copy_data(client, &copy.copy_to).await?;
            self.write("\\.\n\n\n").await?;
            self.tables += 1;
        } else if let Some(oids) = &e.blobs {
            self.write("BEGIN;\n\n").await?;
            for &oid in oids {
                self.large_object(client, oid).await?;
            }
            self.write("COMMIT;\n\n").await?;
        } else if !e.create.is_empty() {
            self.write(&format!("{}\n\n", e.create)).await?;
        }
        if !self.opts.no_owner && !e.owner.is_empty() && !e.drop.is_empty() {
            if let Some(obj) = &e.owner_object {
                self.write(&format!(
                    "ALTER {obj} OWNER TO {};\n\n",
                    quote_ident(&e.owner)
                ))
                .await?;
            }
        }
        if e.desc == "DATABASE" || e.desc == "DATABASE PROPERTIES" {
            self.reconnect(&e.tag).await?;
        }
        Ok(())
    }

    /// `\connect` to the new database, as pg_dump writes it, then the SET block again.
    async fn reconnect(&mut self, dbname: &str) -> Result<()> {
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
        self.write(&format!(
            "\\unrestrict {key}\n{connect}\\restrict {key}\n\n"
        ))
        .await?;
        self.cur_tablespace = None;
        self.cur_table_am = None;
        self.set_block().await
    }

    /// One large object's contents as pg_dump writes them: `lo_open`, `lowrite` calls of
    /// 16 kB, `lo_close`; read piece by piece, never whole.
    async fn large_object(&mut self, client: &Client, oid: u32) -> Result<()> {
        use super::kinds::largeobjects::{is_last_chunk, lowrite, read_chunk, LO_CHUNK};
        self.write(&format!("SELECT pg_catalog.lo_open('{oid}', 131072);\n"))
            .await?;
        let mut offset = 0i64;
        loop {
            let chunk = read_chunk(client, oid, offset).await?;
            for piece in chunk.chunks(LO_CHUNK) {
                self.write(&lowrite(piece)).await?;
            }
            self.data_bytes += chunk.len() as u64;
            offset += chunk.len() as i64;
            if is_last_chunk(&chunk) {
                break;
            }
        }
        self.write("SELECT pg_catalog.lo_close(0);\n\n").await
    }

    /// Streams `COPY ... TO stdout` straight into the output.
    async fn copy_data(&mut self, client: &Client, copy_to: &str) -> Result<()> {
        let stream = client
            .copy_out(copy_to)
            .await
            .map_err(|e| Error::postgres(format!("dumping data with {copy_to}"), e))?;
        pin_mut!(stream);
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| Error::postgres(format!("dumping data with {copy_to}"), e))?
        {
            let chunk: Bytes = chunk;
            self.data_bytes += chunk.len() as u64;
            self.write_bytes(&chunk).await?;
        }
        Ok(())
    }
}

/// Replaces newlines in names, as pg_dump does in comment headers.
fn sanitize(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// pg_dump's `--if-exists` rewrite of a DROP statement.
fn with_if_exists(e: &Entry) -> String {
    let drop = e.drop.as_str();
    if e.desc.starts_with("BLOB") {
        return super::kinds::largeobjects::drop_if_exists(drop);
    }
    if drop.starts_with("--") {
        return drop.to_string();
    }
    let (head, rest) = match drop.strip_prefix("ALTER TABLE") {
        Some(rest) => ("ALTER TABLE IF EXISTS".to_string(), rest),
        None => (String::new(), drop),
    };
    if matches!(e.desc, "DEFAULT" | "DATABASE PROPERTIES") {
        return format!("{head}{rest}");
    }
    let marker = if e.desc.ends_with("CONSTRAINT") {
        "DROP CONSTRAINT".to_string()
    } else {
        format!("DROP {}", e.desc)
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
    use crate::dump::emit::Pass;

    fn entry(desc: &'static str, drop: &str) -> Entry {
        Entry {
            tag: "t".into(),
            desc,
            namespace: None,
            owner: String::new(),
            tablespace: None,
            table_am: None,
            create: String::new(),
            drop: drop.into(),
            copy: None,
            is_data: false,
            pass: Pass::Main,
            owner_object: None,
            ownerless: false,
            blobs: None,
        }
    }

    #[test]
    fn if_exists_rewrites_like_pg_dump() {
        assert_eq!(
            with_if_exists(&entry("TABLE", "DROP TABLE app.t;\n")),
            "DROP TABLE IF EXISTS app.t;\n"
        );
        assert_eq!(
            with_if_exists(&entry(
                "FK CONSTRAINT",
                "ALTER TABLE ONLY app.c DROP CONSTRAINT c_fk;\n"
            )),
            "ALTER TABLE IF EXISTS ONLY app.c DROP CONSTRAINT IF EXISTS c_fk;\n"
        );
        assert_eq!(
            with_if_exists(&entry(
                "DEFAULT",
                "ALTER TABLE app.c ALTER COLUMN s DROP DEFAULT;\n"
            )),
            "ALTER TABLE IF EXISTS app.c ALTER COLUMN s DROP DEFAULT;\n"
        );
        assert_eq!(
            with_if_exists(&entry(
                "SCHEMA",
                "-- *not* dropping schema, since initdb creates it\n"
            )),
            "-- *not* dropping schema, since initdb creates it\n"
        );
    }
}
