//! Dump: writes one database as a pg_dump plain-format SQL script.
//!
//! The stages, each in its own module:
//! 1. [`session`]: one REPEATABLE READ, READ ONLY transaction with pg_dump's settings.
//! 2. [`catalog`]: batched catalog reads (plain columns first, then locks, then the
//!    deparse queries restricted to the locked tables).
//! 3. [`select`]: `-n/-N/-t/-T` resolution; objects pgbm cannot dump are an error.
//! 4. [`graph`] and [`sort`]: pg_dump's dependency-aware ordering.
//! 5. [`emit`]: SQL text of every entry; [`render`]: the output file, with table data
//!    streamed by `COPY ... TO STDOUT` (memory stays bounded whatever the table size).

mod catalog;
mod emit;
mod graph;
mod kinds;
mod model;
mod render;
mod select;
mod session;
mod sort;

use crate::conn::ConnOptions;
use crate::error::{Error, Result};
use tokio::io::AsyncWrite;

/// Options of a dump; each field matches the pg_dump flag of the same name.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DumpOptions {
    /// `-n`: dump only schemas matching these patterns.
    pub schemas: Vec<String>,
    /// `-N`: skip schemas matching these patterns.
    pub exclude_schemas: Vec<String>,
    /// `-t`: dump only tables (views, sequences, ...) matching these patterns.
    pub tables: Vec<String>,
    /// `-T`: skip tables matching these patterns.
    pub exclude_tables: Vec<String>,
    /// `--exclude-table-data`: dump the definition but not the data of these tables.
    pub exclude_table_data: Vec<String>,
    /// `-s`: definitions only.
    pub schema_only: bool,
    /// `-a`: data only.
    pub data_only: bool,
    /// `-O`: no `ALTER ... OWNER TO`.
    pub no_owner: bool,
    /// `-x`: no GRANT/REVOKE.
    pub no_privileges: bool,
    /// `--no-comments`.
    pub no_comments: bool,
    /// `-c`: DROP statements before the CREATEs.
    pub clean: bool,
    /// `--if-exists` (with `clean`).
    pub if_exists: bool,
    /// `-C`: CREATE DATABASE and `\connect`.
    pub create: bool,
    /// `--serializable-deferrable`.
    pub serializable_deferrable: bool,
}

impl DumpOptions {
    /// Checks combinations pg_dump rejects.
    ///
    /// # Errors
    /// A [`crate::ErrorKind::Usage`] error naming the conflicting options.
    pub fn validate(&self) -> Result<()> {
        if self.schema_only && self.data_only {
            return Err(Error::usage(
                "options --schema-only and --data-only cannot be used together",
            ));
        }
        if self.clean && self.data_only {
            return Err(Error::usage(
                "options --clean and --data-only cannot be used together",
            ));
        }
        if self.if_exists && !self.clean {
            return Err(Error::usage("option --if-exists requires option --clean"));
        }
        Ok(())
    }
}

/// What a dump wrote.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DumpSummary {
    /// Tables whose data was dumped.
    pub tables: u64,
    /// Bytes of COPY data written.
    pub data_bytes: u64,
    /// Bytes written in all.
    pub total_bytes: u64,
}

/// Dumps the database `conn` points at into `out`.
///
/// # Errors
/// Connection, server and I/O errors; an object pgbm cannot dump is an
/// [`crate::ErrorKind::Unsupported`] error that names it.
pub async fn dump<W>(conn: &ConnOptions, opts: &DumpOptions, out: W) -> Result<DumpSummary>
where
    W: AsyncWrite + Unpin + Send,
{
    opts.validate()?;
    let client = conn.connect().await?;
    let server = session::begin(&client, opts).await?;

    let mut cat = catalog::Catalog::default();
    catalog::read_relations(&client, &mut cat).await?;
    kinds::read(&client, server.version, &mut cat).await?;
    let sel = select::select(&client, opts, &cat).await?;
    select::check_supported(&client, &sel).await?;
    session::lock_tables(&client, &cat, &sel).await?;
    let wanted: Vec<usize> = cat
        .relations
        .iter()
        .enumerate()
        .filter(|(_, r)| sel.tables.contains(&r.oid) || sel.config_tables.contains_key(&r.oid))
        .map(|(i, _)| i)
        .collect();
    catalog::read_details(&client, server.version, &mut cat, &wanted).await?;
    let database = if opts.create {
        Some(catalog::read_database(&client, server.version).await?)
    } else {
        None
    };

    let mut graph = graph::build(&cat, &sel, opts);
    let order = sort::sort(&mut graph)?;
    let entries = emit::emit(
        &cat,
        &graph,
        &sel,
        opts,
        server.version,
        database.as_ref(),
        &order,
    )?;

    let out = tokio::io::BufWriter::with_capacity(256 * 1024, out);
    let mut r = render::Renderer::new(
        out,
        opts,
        server.version,
        server.version_string,
        session::restrict_key()?,
    );
    r.render(&entries, &client).await?;
    session::finish(&client).await?;
    Ok(DumpSummary {
        tables: r.tables,
        data_bytes: r.data_bytes,
        total_bytes: r.total_bytes,
    })
}
