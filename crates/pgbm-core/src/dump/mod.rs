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
mod globals;
mod graph;
mod kinds;
mod model;
mod output;
mod render;
mod select;
mod session;
mod sort;

use crate::conn::ConnOptions;
use crate::error::{Error, Result};
pub use globals::dump_globals;
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
    /// pg_dumpall's `--globals-only`: roles, memberships, parameter privileges and
    /// tablespaces of the whole cluster instead of one database (see [`dump_globals`]).
    pub globals_only: bool,
    /// pg_dumpall's `--no-role-passwords`: read roles from `pg_roles` (which needs no
    /// superuser) and write no passwords. Only with [`DumpOptions::globals_only`].
    pub no_role_passwords: bool,
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
        if self.no_role_passwords && !self.globals_only {
            return Err(Error::usage(
                "option --no-role-passwords requires option --globals-only",
            ));
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

/// What one segment of a segmented dump holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentKind {
    /// Everything before the table data: header, settings, definitions.
    PreData,
    /// One table's data (a COPY block).
    TableData,
    /// Everything after the table data: sequence values, indexes, constraints,
    /// privileges, the footer.
    PostData,
}

/// One segment of a segmented dump. Concatenated in `index` order, the segments are
/// exactly the plain-format dump.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentSpec {
    /// Position in the dump.
    pub index: usize,
    /// What the segment holds.
    pub kind: SegmentKind,
    /// A readable name: `pre-data`, `post-data`, `data/<schema>.<table>`.
    pub name: String,
    /// For table data: the schema.
    pub schema: Option<String>,
    /// For table data: the table.
    pub table: Option<String>,
}

/// What was written into one segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentStats {
    /// Bytes of the segment.
    pub bytes: u64,
    /// Bytes of COPY data (table data segments).
    pub data_bytes: u64,
    /// Rows of COPY data (table data segments).
    pub rows: u64,
}

/// One entry of a dump's table of contents: where its text lies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TocEntry {
    /// The segment holding it.
    pub segment: usize,
    /// Byte offset within the segment.
    pub offset: u64,
    /// Length in bytes (0 for table data: the whole segment).
    pub len: u64,
    /// pg_dump's entry type (`TABLE`, `INDEX`, `TABLE DATA`, ...).
    pub desc: String,
    /// The entry's name as in its `-- Name:` header.
    pub tag: String,
    /// The entry's schema.
    pub namespace: Option<String>,
    /// The statement that drops the entry's object, as `--clean` writes it (empty if
    /// none); see [`TocEntry::drop_statement`].
    pub drop: String,
}

impl TocEntry {
    /// The entry's DROP statement, with pg_dump's `--if-exists` rewrite if asked;
    /// empty if the entry drops nothing (data, comments, privileges).
    pub fn drop_statement(&self, if_exists: bool) -> String {
        if if_exists && !self.drop.is_empty() {
            render::with_if_exists(&self.desc, &self.drop)
        } else {
            self.drop.clone()
        }
    }
}

/// Where a segmented dump goes. Table data segments may be open at the same time
/// (one per job).
pub trait DumpTarget: Sync {
    /// The writer of one segment.
    type Segment: AsyncWrite + Unpin + Send;

    /// Opens a segment for writing.
    fn open_segment(
        &self,
        spec: &SegmentSpec,
    ) -> impl std::future::Future<Output = Result<Self::Segment>> + Send;

    /// Closes a segment after its last byte.
    fn close_segment(
        &self,
        spec: &SegmentSpec,
        segment: Self::Segment,
        stats: &SegmentStats,
    ) -> impl std::future::Future<Output = Result<()>> + Send;
}

/// The result of a segmented dump.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SegmentedDump {
    /// Every segment, in dump order, with what was written into it.
    pub segments: Vec<(SegmentSpec, SegmentStats)>,
    /// Where each entry's text lies.
    pub toc: Vec<TocEntry>,
    /// The server's `server_version`.
    pub server_version: String,
    /// The server's `server_version_num`.
    pub server_version_num: i32,
    /// The database dumped.
    pub database: String,
    /// When the snapshot was taken (server time, ISO 8601).
    pub snapshot_time: String,
    /// Totals.
    pub summary: DumpSummary,
}

/// Everything a dump knows before it writes: the rendered text and the session.
struct Prepared {
    client: tokio_postgres::Client,
    server: session::Server,
    rendered: render::Rendered,
}

async fn prepare(conn: &ConnOptions, opts: &DumpOptions) -> Result<Prepared> {
    opts.validate()?;
    if opts.globals_only {
        return Err(Error::usage(
            "--globals-only writes a plain script: use dump, not a segmented dump",
        ));
    }
    let client = conn.connect().await?;
    let server = session::begin(&client, opts).await?;

    let mut cat = catalog::Catalog::default();
    catalog::read_relations(&client, &mut cat).await?;
    kinds::read(&client, server.version, &mut cat).await?;
    let sel = select::select(&client, opts, &cat).await?;
    select::check_supported(&client, &sel).await?;
    session::lock_tables(&client, &cat, &sel).await?;
    let mut wanted: Vec<usize> = cat
        .relations
        .iter()
        .enumerate()
        .filter(|(_, r)| sel.tables.contains(&r.oid) || sel.config_tables.contains_key(&r.oid))
        .map(|(i, _)| i)
        .collect();
    // Parents of dumped tables are read too (not dumped): children inherit from them.
    wanted.extend(kinds::partitions::parents_to_read(&cat, &wanted));
    catalog::read_details(&client, server.version, &mut cat, &wanted).await?;
    kinds::read_locked(&client, server.version, &mut cat, &sel).await?;
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
    let rendered = render::render(
        &entries,
        opts,
        server.version,
        &server.version_string,
        &session::restrict_key()?,
    );
    Ok(Prepared {
        client,
        server,
        rendered,
    })
}

/// Dumps the database `conn` points at into `out`, as one plain-format script.
///
/// # Errors
/// Connection, server and I/O errors; an object pgbm cannot dump is an
/// [`crate::ErrorKind::Unsupported`] error that names it.
pub async fn dump<W>(conn: &ConnOptions, opts: &DumpOptions, out: W) -> Result<DumpSummary>
where
    W: AsyncWrite + Unpin + Send,
{
    if opts.globals_only {
        return dump_globals(conn, opts, out).await;
    }
    let p = prepare(conn, opts).await?;
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, out);
    let t = output::write_plain(&p.rendered, &p.client, &mut out).await?;
    session::finish(&p.client).await?;
    Ok(DumpSummary {
        tables: t.tables,
        data_bytes: t.data_bytes,
        total_bytes: t.total_bytes,
    })
}

/// Dumps the database `conn` points at as segments (see [`SegmentSpec`]) into
/// `target`, with table data dumped by `jobs` connections sharing one snapshot.
///
/// # Errors
/// As [`dump`]; also any error of `target`.
pub async fn dump_segmented<T: DumpTarget>(
    conn: &ConnOptions,
    opts: &DumpOptions,
    jobs: usize,
    target: &T,
) -> Result<SegmentedDump> {
    let p = prepare(conn, opts).await?;
    let snapshot = if jobs > 1 {
        Some(session::export_snapshot(&p.client).await?)
    } else {
        None
    };
    let (database, snapshot_time) = session::identity(&p.client).await?;
    let specs = output::segment_specs(&p.rendered);
    let (stats, t) = output::write_segments(
        &p.rendered,
        &p.client,
        conn,
        snapshot.as_deref(),
        jobs,
        target,
    )
    .await?;
    session::finish(&p.client).await?;
    let toc = p
        .rendered
        .toc
        .iter()
        .map(|r| TocEntry {
            segment: r.piece,
            offset: r.offset as u64,
            len: r.len as u64,
            desc: r.desc.to_string(),
            tag: r.tag.clone(),
            namespace: r.namespace.clone(),
            drop: r.drop.clone(),
        })
        .collect();
    Ok(SegmentedDump {
        segments: specs.into_iter().zip(stats).collect(),
        toc,
        server_version: p.server.version_string,
        server_version_num: p.server.version,
        database,
        snapshot_time,
        summary: DumpSummary {
            tables: t.tables,
            data_bytes: t.data_bytes,
            total_bytes: t.total_bytes,
        },
    })
}
