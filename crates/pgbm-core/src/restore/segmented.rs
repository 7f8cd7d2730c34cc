//! Restore of a segmented dump (a backup): definitions first, then table data with
//! several connections at once, then indexes and constraints in parallel batches and
//! the rest in order. With a schema or table filter, only the matching entries run.
//!
//! The text of every entry comes from the dump's table of contents, so a filtered
//! restore runs exactly the selected entries, each preceded by the dump's own session
//! settings (the SET block).

use super::batch::{self, BatchEntry, Locks};
use super::executor::Executor;
use super::{create_database, drop_database, target_database, RestoreOptions, RestoreSummary};
use crate::conn::ConnOptions;
use crate::dump::{SegmentKind, SegmentSpec, TocEntry};
use crate::error::{Error, Result};
use crate::script::ScriptReader;
use tokio::io::{AsyncBufRead, AsyncReadExt};

/// Where a segmented restore reads segments from (an archive).
pub trait SegmentSource: Sync {
    /// A reader of one segment's plaintext.
    type Reader: AsyncBufRead + Unpin + Send;

    /// Opens segment `index` for reading.
    fn open(&self, index: usize) -> impl std::future::Future<Output = Result<Self::Reader>> + Send;
}

/// Post-data entries that only need the tables and can run side by side.
const PARALLEL_FIRST: &[&str] = &["INDEX", "CONSTRAINT", "CHECK CONSTRAINT"];

/// Restores the segmented dump described by `segments` and `toc`, reading segment
/// text from `source`. `opts.jobs` connections load table data and build indexes at
/// once; `opts.schemas`/`opts.tables` select entries.
///
/// # Errors
/// As [`super::restore`]; the first error stops the restore.
pub async fn restore_segmented<S: SegmentSource>(
    conn: &ConnOptions,
    opts: &RestoreOptions,
    segments: &[SegmentSpec],
    toc: &[TocEntry],
    source: &S,
) -> Result<RestoreSummary> {
    if opts.single_transaction && opts.jobs > 1 {
        return Err(Error::usage(
            "--single-transaction cannot be combined with more than one job",
        ));
    }
    let target = target_database(conn, opts)?;
    if opts.create {
        let name = target.as_deref().unwrap_or_default();
        if opts.clean {
            drop_database(conn, name, opts.if_exists).await?;
        }
        create_database(conn, name).await?;
    }
    let session = target.map_or_else(|| conn.clone(), |db| conn.with_dbname(&db));
    let filter = Filter::new(opts);
    let jobs = opts.jobs.max(1);
    let mut total = RestoreSummary::default();

    let mut preamble = String::new();
    for spec in segments {
        match spec.kind {
            SegmentKind::TableData => {}
            SegmentKind::PreData if spec.index == 0 => {
                let text = read_text(source, spec).await?;
                preamble = session_preamble(&text);
                // Into a database just created there is nothing to drop.
                if opts.clean && !opts.create {
                    let drops = drop_script(toc, &filter, &preamble, opts.if_exists);
                    add(&mut total, run_text(&session, opts, &drops, "drops").await?);
                }
                let script = select_entries(&text, spec.index, toc, &filter, &preamble);
                add(
                    &mut total,
                    run_text(&session, opts, &script, &spec.name).await?,
                );
            }
            _ => {}
        }
    }
    let data: Vec<&SegmentSpec> = segments
        .iter()
        .filter(|s| s.kind == SegmentKind::TableData && filter.table_data(s))
        .collect();
    add(
        &mut total,
        load_tables(&session, opts, source, &data, &preamble, jobs).await?,
    );

    for spec in segments.iter().filter(|s| s.kind == SegmentKind::PostData) {
        let text = read_text(source, spec).await?;
        let s = run_post_data(&session, opts, &text, spec, toc, &filter, &preamble, jobs).await?;
        add(&mut total, s);
    }
    Ok(total)
}

/// Which entries a filtered restore runs.
struct Filter {
    schemas: Vec<String>,
    tables: Vec<String>,
}

impl Filter {
    fn new(opts: &RestoreOptions) -> Self {
        Filter {
            schemas: opts.schemas.clone(),
            tables: opts.tables.clone(),
        }
    }

    fn is_empty(&self) -> bool {
        self.schemas.is_empty() && self.tables.is_empty()
    }

    /// pg_restore's rules: `--schema` selects every entry of the schema; `--table`
    /// selects the named relations' definitions and data (not their indexes).
    fn entry(&self, e: &TocEntry) -> bool {
        if self.is_empty() {
            return true;
        }
        let ns = e.namespace.as_deref().unwrap_or("");
        let schema_ok = self.schemas.is_empty() || self.schemas.iter().any(|s| s == ns);
        if self.tables.is_empty() {
            return schema_ok;
        }
        let relation_kind = matches!(
            e.desc.as_str(),
            "TABLE"
                | "TABLE DATA"
                | "VIEW"
                | "MATERIALIZED VIEW"
                | "SEQUENCE"
                | "SEQUENCE SET"
                | "FOREIGN TABLE"
        );
        relation_kind && schema_ok && self.tables.iter().any(|t| table_matches(t, ns, &e.tag))
    }

    fn table_data(&self, spec: &SegmentSpec) -> bool {
        let entry = TocEntry {
            segment: spec.index,
            offset: 0,
            len: 0,
            desc: "TABLE DATA".into(),
            tag: spec.table.clone().unwrap_or_default(),
            namespace: spec.schema.clone(),
            drop: String::new(),
        };
        self.entry(&entry)
    }
}

/// `name` or `schema.name`.
fn table_matches(pattern: &str, schema: &str, tag: &str) -> bool {
    match pattern.split_once('.') {
        Some((s, t)) => s == schema && t == tag,
        None => pattern == tag,
    }
}

fn add(total: &mut RestoreSummary, s: RestoreSummary) {
    total.statements += s.statements;
    total.copies += s.copies;
    total.copy_bytes += s.copy_bytes;
    total.copy_rows += s.copy_rows;
}

async fn read_text<S: SegmentSource>(source: &S, spec: &SegmentSpec) -> Result<String> {
    let mut reader = source.open(spec.index).await?;
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .await
        .map_err(|e| Error::io(format!("reading segment {}", spec.name), e))?;
    Ok(text)
}

/// The dump's session settings: every line of the header up to the first entry that
/// is a `SET` or `set_config` statement or psql's `\\restrict`, so that other
/// connections behave alike (and accept the dump's closing `\\unrestrict`).
fn session_preamble(pre_data: &str) -> String {
    pre_data
        .lines()
        .take_while(|l| !l.starts_with("-- Name:") && !l.starts_with("-- Data for Name:"))
        .filter(|l| {
            l.starts_with("SET ")
                || l.starts_with("SELECT pg_catalog.set_config(")
                || l.starts_with("\\restrict ")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// pg_restore's `--clean`: the DROP statements of the selected entries, last created
/// first, after the session settings.
fn drop_script(toc: &[TocEntry], filter: &Filter, preamble: &str, if_exists: bool) -> String {
    let mut out = preamble.to_string();
    for e in toc.iter().rev().filter(|e| filter.entry(e)) {
        out.push_str(&e.drop_statement(if_exists));
    }
    out
}

/// The text of a segment restricted to the selected entries (all of it without a
/// filter).
fn select_entries(
    text: &str,
    segment: usize,
    toc: &[TocEntry],
    filter: &Filter,
    preamble: &str,
) -> String {
    if filter.is_empty() {
        return text.to_string();
    }
    let mut out = preamble.to_string();
    // A table restored alone needs its schema; create it unless it exists.
    if !filter.tables.is_empty() {
        let mut schemas: Vec<&str> = toc
            .iter()
            .filter(|e| e.segment == segment && filter.entry(e))
            .filter_map(|e| e.namespace.as_deref())
            .collect();
        schemas.sort_unstable();
        schemas.dedup();
        for schema in schemas {
            out.push_str(&format!(
                "CREATE SCHEMA IF NOT EXISTS {};\n",
                crate::sql::quote_ident(schema)
            ));
        }
    }
    for e in toc.iter().filter(|e| e.segment == segment && e.len > 0) {
        if filter.entry(e) {
            out.push_str(entry_text(text, e));
        }
    }
    out
}

fn entry_text<'a>(text: &'a str, e: &TocEntry) -> &'a str {
    let start = (e.offset as usize).min(text.len());
    let end = (start + e.len as usize).min(text.len());
    &text[start..end]
}

/// Runs script text on a new session.
async fn run_text(
    session: &ConnOptions,
    opts: &RestoreOptions,
    script: &str,
    what: &str,
) -> Result<RestoreSummary> {
    let mut reader = ScriptReader::new(script.as_bytes());
    let mut executor = Executor::connect(session.clone(), opts.single_transaction).await?;
    match executor.run(&mut reader).await {
        Ok(()) => executor.finish(reader.line()).await,
        Err(e) => {
            executor.abort().await;
            Err(Error::new(e.kind(), format!("{what}: {e}")))
        }
    }
}

/// Loads the table data segments on up to `jobs` sessions, each kept open for the
/// segments it takes (one connection per table would cost more than a small table's
/// COPY). Stops at the first error.
async fn load_tables<S: SegmentSource>(
    session: &ConnOptions,
    opts: &RestoreOptions,
    source: &S,
    data: &[&SegmentSpec],
    preamble: &str,
    jobs: usize,
) -> Result<RestoreSummary> {
    let next = std::sync::Mutex::new(data.iter());
    let take = || {
        next.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .next()
    };
    let workers = (0..jobs.min(data.len())).map(|_| async {
        let mut executor: Option<Executor> = None;
        while let Some(spec) = take() {
            if let Err(e) = load_table(&mut executor, session, opts, source, spec, preamble).await {
                if let Some(ex) = &executor {
                    ex.abort().await;
                }
                return Err(Error::new(e.kind(), format!("{}: {e}", spec.name)));
            }
        }
        match executor {
            Some(ex) => ex.finish(0).await,
            None => Ok(RestoreSummary::default()),
        }
    });
    let mut total = RestoreSummary::default();
    for s in futures_util::future::try_join_all(workers).await? {
        add(&mut total, s);
    }
    Ok(total)
}

/// Loads one table's data segment on the worker's session (opened, with the dump's
/// session settings, on first use).
async fn load_table<S: SegmentSource>(
    executor: &mut Option<Executor>,
    session: &ConnOptions,
    opts: &RestoreOptions,
    source: &S,
    spec: &SegmentSpec,
    preamble: &str,
) -> Result<()> {
    let ex = Executor::reuse_or_connect(executor, session, opts, preamble).await?;
    let data = source.open(spec.index).await?;
    ex.run(&mut ScriptReader::new(tokio::io::BufReader::new(data)))
        .await
}

/// Runs the post-data segment: runs of consecutive index and constraint entries go
/// in parallel batches (foreign keys in batches of their own, after the indexes they
/// need); everything else runs in order.
#[allow(clippy::too_many_arguments)]
async fn run_post_data(
    session: &ConnOptions,
    opts: &RestoreOptions,
    text: &str,
    spec: &SegmentSpec,
    toc: &[TocEntry],
    filter: &Filter,
    preamble: &str,
    jobs: usize,
) -> Result<RestoreSummary> {
    let entries: Vec<&TocEntry> = toc
        .iter()
        .filter(|e| e.segment == spec.index && e.len > 0)
        .collect();
    if jobs == 1 || entries.is_empty() {
        let mut script = select_entries(text, spec.index, toc, filter, preamble);
        if filter.is_empty() {
            script.insert_str(0, preamble);
        }
        return run_text(session, opts, &script, &spec.name).await;
    }
    let mut total = RestoreSummary::default();
    // Text before the first entry and after the last (footer, \unrestrict) runs too.
    let head = &text[..entries[0].offset as usize];
    let last = entries[entries.len() - 1];
    let tail = &text[(last.offset + last.len) as usize..];
    let mut serial = format!("{preamble}{head}");
    let mut batch: Vec<&TocEntry> = Vec::new();
    let mut batch_kind = "";
    for e in entries.iter().copied().filter(|e| filter.entry(e)) {
        let kind = if PARALLEL_FIRST.contains(&e.desc.as_str()) {
            "index"
        } else if e.desc == "FK CONSTRAINT" {
            "fk"
        } else {
            ""
        };
        if kind != batch_kind && !batch.is_empty() {
            flush_serial(session, opts, &mut serial, preamble, &spec.name, &mut total).await?;
            run_batch(session, opts, text, &batch, preamble, jobs, &mut total).await?;
            batch.clear();
        }
        batch_kind = kind;
        if kind.is_empty() {
            serial.push_str(entry_text(text, e));
        } else {
            if !serial.trim().is_empty() && batch.is_empty() {
                flush_serial(session, opts, &mut serial, preamble, &spec.name, &mut total).await?;
            }
            batch.push(e);
        }
    }
    flush_serial(session, opts, &mut serial, preamble, &spec.name, &mut total).await?;
    run_batch(session, opts, text, &batch, preamble, jobs, &mut total).await?;
    serial.push_str(tail);
    flush_serial(session, opts, &mut serial, preamble, &spec.name, &mut total).await?;
    Ok(total)
}

async fn flush_serial(
    session: &ConnOptions,
    opts: &RestoreOptions,
    serial: &mut String,
    preamble: &str,
    what: &str,
    total: &mut RestoreSummary,
) -> Result<()> {
    if serial.len() > preamble.len() && !serial[preamble.len()..].trim().is_empty() {
        add(total, run_text(session, opts, serial, what).await?);
    }
    *serial = preamble.to_string();
    Ok(())
}

/// Runs a batch of index or foreign key entries in parallel ([`batch::run_batch`]).
async fn run_batch(
    session: &ConnOptions,
    opts: &RestoreOptions,
    text: &str,
    batch: &[&TocEntry],
    preamble: &str,
    jobs: usize,
    total: &mut RestoreSummary,
) -> Result<()> {
    let entries = batch
        .iter()
        .map(|e| {
            let text = entry_text(text, e);
            BatchEntry {
                text,
                what: format!("{} {}", e.desc, e.tag),
                locks: if e.desc == "FK CONSTRAINT" {
                    Locks::of_foreign_key(text)
                } else {
                    Locks::None
                },
            }
        })
        .collect();
    add(
        total,
        batch::run_batch(session, opts, preamble, entries, jobs).await?,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preamble_keeps_only_settings() {
        let text = "--\n-- PostgreSQL database dump\n--\n\n\\restrict k\n\n\
                    SET statement_timeout = 0;\n\
                    SELECT pg_catalog.set_config('search_path', '', false);\n\n\
                    --\n-- Name: s; Type: SCHEMA; Schema: -; Owner: x\n--\n\nCREATE SCHEMA s;\n\
                    SET default_tablespace = '';\n";
        assert_eq!(
            session_preamble(text),
            "\\restrict k\nSET statement_timeout = 0;\n\
             SELECT pg_catalog.set_config('search_path', '', false);\n"
        );
    }

    #[test]
    fn table_filter_follows_pg_restore() {
        let opts = RestoreOptions {
            tables: vec!["app.t".into()],
            ..RestoreOptions::default()
        };
        let f = Filter::new(&opts);
        let entry = |desc: &str, ns: &str, tag: &str| TocEntry {
            segment: 0,
            offset: 0,
            len: 1,
            desc: desc.into(),
            tag: tag.into(),
            namespace: Some(ns.into()),
            drop: String::new(),
        };
        assert!(f.entry(&entry("TABLE", "app", "t")));
        assert!(f.entry(&entry("TABLE DATA", "app", "t")));
        assert!(!f.entry(&entry("INDEX", "app", "t_idx")));
        assert!(!f.entry(&entry("TABLE", "other", "t")));
        assert!(!f.entry(&entry("TABLE", "app", "u")));
    }

    #[test]
    fn drops_run_last_created_first_for_the_selection() {
        let opts = RestoreOptions {
            schemas: vec!["app".into()],
            ..RestoreOptions::default()
        };
        let entry = |desc: &str, ns: &str, tag: &str, drop: &str| TocEntry {
            segment: 0,
            offset: 0,
            len: 1,
            desc: desc.into(),
            tag: tag.into(),
            namespace: Some(ns.into()),
            drop: drop.into(),
        };
        let toc = [
            entry("TABLE", "app", "t", "DROP TABLE app.t;\n"),
            entry("TABLE", "other", "u", "DROP TABLE other.u;\n"),
            entry("TABLE DATA", "app", "t", ""),
            entry("INDEX", "app", "t_i", "DROP INDEX app.t_i;\n"),
        ];
        let f = Filter::new(&opts);
        assert_eq!(
            drop_script(&toc, &f, "SET x = 1;\n", false),
            "SET x = 1;\nDROP INDEX app.t_i;\nDROP TABLE app.t;\n"
        );
        assert_eq!(
            drop_script(&toc, &f, "", true),
            "DROP INDEX IF EXISTS app.t_i;\nDROP TABLE IF EXISTS app.t;\n"
        );
    }
}
