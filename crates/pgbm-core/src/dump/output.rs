//! Writes a rendered dump: into one plain-format stream, or as segments (one per
//! table's data, possibly several at once) into a [`DumpTarget`].
//!
//! Table data always streams from `COPY ... TO STDOUT` straight into the writer, chunk
//! by chunk, so memory stays bounded whatever the size of a table.

use super::render::{CopyPiece, Piece, Rendered, COPY_END};
use super::{session, DumpTarget, SegmentKind, SegmentSpec, SegmentStats};
use crate::conn::ConnOptions;
use crate::error::{Error, Result};
use futures_util::{pin_mut, StreamExt, TryStreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio_postgres::{Client, CopyOutStream};

/// Totals of what was written.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Totals {
    pub tables: u64,
    pub data_bytes: u64,
    pub total_bytes: u64,
}

async fn write_all<W: AsyncWrite + Unpin>(out: &mut W, b: &[u8]) -> Result<()> {
    out.write_all(b)
        .await
        .map_err(|e| Error::io("writing the dump", e))
}

/// Streams one table's data into `out`; returns (bytes, rows).
async fn copy_table<W: AsyncWrite + Unpin>(
    client: &Client,
    copy_to: &str,
    out: &mut W,
) -> Result<(u64, u64)> {
    let stream = start_copy(client, copy_to).await?;
    write_copy(stream, copy_to, out).await
}

/// Sends `copy_to` (a `COPY ... TO STDOUT`) and waits until its data begins.
async fn start_copy(client: &Client, copy_to: &str) -> Result<CopyOutStream> {
    client
        .copy_out(copy_to)
        .await
        .map_err(|e| Error::postgres(format!("dumping data with {copy_to}"), e))
}

/// Writes the data of a started COPY into `out`; returns (bytes, rows).
async fn write_copy<W: AsyncWrite + Unpin>(
    stream: CopyOutStream,
    copy_to: &str,
    out: &mut W,
) -> Result<(u64, u64)> {
    let what = || format!("dumping data with {copy_to}");
    pin_mut!(stream);
    let (mut bytes, mut rows) = (0u64, 0u64);
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| Error::postgres(what(), e))?
    {
        bytes += chunk.len() as u64;
        // Text-format COPY escapes newlines inside values, so one line is one row.
        rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        write_all(out, &chunk).await?;
    }
    Ok((bytes, rows))
}

/// How many tables' COPY statements are sent ahead of the one being written.
///
/// Each COPY costs round trips (tokio-postgres prepares it, then runs it); waiting
/// for them table after table dominated dumps of many small tables. Requests sent
/// ahead overlap those waits. Memory stays bounded: tokio-postgres stops reading the
/// socket while a response nobody reads yet is pending, so later tables' data waits
/// on the server (at most one socket read of it is held here).
const COPY_PIPELINE: usize = 64;

/// Writes the whole dump, in order, into one stream.
///
/// The COPY statements of a run of tables are pipelined (see [`COPY_PIPELINE`]). A
/// large-object piece reads through the same connection, so the pipeline is drained
/// before it: its queries would otherwise wait behind responses that nobody reads.
pub(crate) async fn write_plain<W: AsyncWrite + Unpin>(
    rendered: &Rendered,
    client: &Client,
    out: &mut W,
) -> Result<Totals> {
    let mut t = Totals::default();
    for run in rendered
        .pieces
        .split_inclusive(|p| matches!(p, Piece::LargeObjects(_)))
    {
        write_run(run, client, out, &mut t).await?;
    }
    out.flush()
        .await
        .map_err(|e| Error::io("writing the dump", e))?;
    Ok(t)
}

/// Writes `pieces`, none of which but the last may be a large-object piece.
async fn write_run<W: AsyncWrite + Unpin>(
    pieces: &[Piece],
    client: &Client,
    out: &mut W,
    t: &mut Totals,
) -> Result<()> {
    let copies = pieces.iter().filter_map(|p| match p {
        Piece::Copy(c) => Some(c.copy_to.as_str()),
        Piece::Text(_) | Piece::LargeObjects(_) => None,
    });
    let mut started = futures_util::stream::iter(copies)
        .map(|copy_to| start_copy(client, copy_to))
        .buffered(COPY_PIPELINE);
    for piece in pieces {
        match piece {
            Piece::Text(text) => {
                write_all(out, text.as_bytes()).await?;
                t.total_bytes += text.len() as u64;
            }
            Piece::LargeObjects(lo) => {
                let (bytes, data) =
                    super::kinds::largeobjects::write_piece(client, lo, out).await?;
                t.data_bytes += data;
                t.total_bytes += bytes;
            }
            Piece::Copy(copy) => {
                let stream = started.next().await.ok_or_else(|| {
                    Error::internal(format!("no COPY was started for {}", copy.copy_to))
                })??;
                write_all(out, copy.header.as_bytes()).await?;
                let (bytes, _) = write_copy(stream, &copy.copy_to, out).await?;
                write_all(out, COPY_END.as_bytes()).await?;
                t.tables += 1;
                t.data_bytes += bytes;
                t.total_bytes += (copy.header.len() + COPY_END.len()) as u64 + bytes;
            }
        }
    }
    Ok(())
}

/// The segment layout of a rendered dump: one segment per piece.
pub(crate) fn segment_specs(rendered: &Rendered) -> Vec<SegmentSpec> {
    let first_copy = rendered
        .pieces
        .iter()
        .position(|p| matches!(p, Piece::Copy(_)));
    rendered
        .pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| match piece {
            Piece::Copy(c) => SegmentSpec {
                index: i,
                kind: SegmentKind::TableData,
                name: format!("data/{}.{}", c.schema, c.table),
                schema: Some(c.schema.clone()),
                table: Some(c.table.clone()),
            },
            Piece::Text(_) | Piece::LargeObjects(_) => {
                let pre = first_copy.is_none_or(|f| i < f);
                SegmentSpec {
                    index: i,
                    kind: if pre {
                        SegmentKind::PreData
                    } else {
                        SegmentKind::PostData
                    },
                    name: if pre { "pre-data" } else { "post-data" }.to_string(),
                    schema: None,
                    table: None,
                }
            }
        })
        .collect()
}

/// Writes every piece as a segment of `target`. Table data goes through `jobs`
/// connections that share the leader's snapshot (`snapshot` is its exported id when
/// `jobs > 1`), largest tables first.
pub(crate) async fn write_segments<T: DumpTarget>(
    rendered: &Rendered,
    leader: &Client,
    conn: &ConnOptions,
    snapshot: Option<&str>,
    jobs: usize,
    target: &T,
) -> Result<(Vec<SegmentStats>, Totals)> {
    let specs = segment_specs(rendered);
    let mut stats = vec![SegmentStats::default(); specs.len()];
    let mut totals = Totals::default();
    for (spec, piece) in specs.iter().zip(&rendered.pieces) {
        if let Piece::LargeObjects(lo) = piece {
            // Read through the leader: large objects are few and read in order.
            let mut seg = target.open_segment(spec).await?;
            let (bytes, data_bytes) =
                super::kinds::largeobjects::write_piece(leader, lo, &mut seg).await?;
            let st = SegmentStats {
                bytes,
                data_bytes,
                ..SegmentStats::default()
            };
            target.close_segment(spec, seg, &st).await?;
            totals.total_bytes += st.bytes;
            totals.data_bytes += st.data_bytes;
            stats[spec.index] = st;
        }
        if let Piece::Text(text) = piece {
            let mut seg = target.open_segment(spec).await?;
            write_all(&mut seg, text.as_bytes()).await?;
            let st = SegmentStats {
                bytes: text.len() as u64,
                ..SegmentStats::default()
            };
            target.close_segment(spec, seg, &st).await?;
            totals.total_bytes += st.bytes;
            stats[spec.index] = st;
        }
    }
    let mut copies: Vec<(&SegmentSpec, &CopyPiece)> = specs
        .iter()
        .zip(&rendered.pieces)
        .filter_map(|(s, p)| match p {
            Piece::Copy(c) => Some((s, c)),
            Piece::Text(_) | Piece::LargeObjects(_) => None,
        })
        .collect();
    let pool = match (jobs > 1, snapshot) {
        (true, Some(id)) => {
            copies.sort_by_key(|(_, c)| std::cmp::Reverse(c.estimated_bytes));
            let mut clients = Vec::with_capacity(jobs);
            for _ in 0..jobs.min(copies.len()) {
                let client = conn.connect().await?;
                session::begin_worker(&client, id).await?;
                clients.push(client);
            }
            Some(Mutex::new(clients))
        }
        _ => None,
    };
    let results: Vec<(usize, SegmentStats)> = futures_util::stream::iter(copies)
        .map(|(spec, copy)| {
            let pool = pool.as_ref();
            async move {
                let st = match pool {
                    Some(pool) => {
                        let client = pool.lock().await.pop().ok_or_else(|| {
                            Error::internal("no free worker connection for a table")
                        })?;
                        let res = copy_segment(&client, true, spec, copy, target).await;
                        pool.lock().await.push(client);
                        res?
                    }
                    None => copy_segment(leader, false, spec, copy, target).await?,
                };
                Ok::<_, Error>((spec.index, st))
            }
        })
        .buffer_unordered(jobs.max(1))
        .try_collect()
        .await?;
    for (i, st) in results {
        totals.tables += 1;
        totals.data_bytes += st.data_bytes;
        totals.total_bytes += st.bytes;
        stats[i] = st;
    }
    if let Some(pool) = pool {
        for client in pool.into_inner() {
            session::finish(&client).await?;
        }
    }
    Ok((stats, totals))
}

/// Dumps one table's data into its own segment.
async fn copy_segment<T: DumpTarget>(
    client: &Client,
    worker: bool,
    spec: &SegmentSpec,
    copy: &CopyPiece,
    target: &T,
) -> Result<SegmentStats> {
    if worker {
        // A worker must not wait behind a lock request queued after the leader's
        // lock: that would deadlock invisibly. Fail instead, as pg_dump does.
        let table = crate::sql::qualified(&copy.schema, &copy.table);
        client
            .batch_execute(&format!("LOCK TABLE {table} IN ACCESS SHARE MODE NOWAIT"))
            .await
            .map_err(|e| Error::postgres(format!("locking {table} in a worker"), e))?;
    }
    let mut seg = target.open_segment(spec).await?;
    write_all(&mut seg, copy.header.as_bytes()).await?;
    let (bytes, rows) = copy_table(client, &copy.copy_to, &mut seg).await?;
    write_all(&mut seg, COPY_END.as_bytes()).await?;
    let st = SegmentStats {
        bytes: (copy.header.len() + COPY_END.len()) as u64 + bytes,
        data_bytes: bytes,
        rows,
    };
    target.close_segment(spec, seg, &st).await?;
    Ok(st)
}
