//! The manifest stored in a backup's archive footer: everything `list`, `verify` and
//! `restore` need, so a backup is self-contained (the sidecar is only a cache of it).
//!
//! Segment numbers: the archive numbers segments in the order they were *begun*, and
//! table segments are begun by parallel workers in whatever order they get to them,
//! so the dump position of a segment (`index`, the order in which concatenated
//! segments form the plain script) and its archive number (`archive_segment`) differ.
//! The manifest keeps both; each archive segment's metadata also carries its `index`
//! (`extra.index`), so the script can be put together without the manifest too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::archive::SegmentInfo;
use crate::dump::{SegmentKind, SegmentSpec, SegmentStats, SegmentedDump, TocEntry};
use crate::{Error, ErrorKind, Result};

/// Value of [`Manifest::format`]: marks a pgbm backup manifest.
pub const MANIFEST_FORMAT: &str = "pgbm-backup";
/// Version of the manifest layout this build writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// A backup's manifest. See `docs/REPOSITORY.md` for every field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// The backup's id.
    pub id: String,
    /// Version of pgbm that made the backup.
    pub pgbm_version: String,
    /// The database backed up.
    pub database: String,
    /// The server's `server_version`.
    pub server_version: String,
    /// The server's `server_version_num`.
    pub server_version_num: i32,
    /// When the dump's snapshot was taken (server clock).
    pub snapshot_time: String,
    /// When the backup started (pgbm's clock, UTC, RFC 3339).
    pub started_at: String,
    /// When all data was written, just before the footer (pgbm's clock).
    pub finished_at: String,
    /// The user's label, if any.
    pub tag: Option<String>,
    /// How the backup was made.
    pub options: ManifestOptions,
    /// Totals over all segments.
    pub totals: Totals,
    /// Number of dump entries by pg_dump entry type (`TABLE`, `INDEX`, ...).
    pub object_counts: BTreeMap<String, u64>,
    /// Every segment, in dump order.
    pub segments: Vec<ManifestSegment>,
    /// The dump's table of contents.
    pub toc: Vec<ManifestTocEntry>,
}

/// How a backup was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestOptions {
    /// Connections that dumped table data.
    pub jobs: usize,
    /// `none` or `zstd:LEVEL`.
    pub compression: String,
    /// Kinds of key slots (`passphrase (600000 iterations)`, `key file <id>`); empty
    /// if not encrypted.
    pub key_slots: Vec<String>,
    /// Dump filters and switches that were not the defaults, as `pgbm dump` flags
    /// (`--schema=app`, `--no-owner`, ...).
    pub dump_flags: Vec<String>,
}

/// Totals over a backup's segments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Totals {
    /// Tables with data.
    pub tables: u64,
    /// Rows of table data.
    pub rows: u64,
    /// Bytes of COPY data.
    pub data_bytes: u64,
    /// Bytes of the plain script (all segments).
    pub plaintext_bytes: u64,
    /// Bytes of all segments as stored (compressed, with tags).
    pub stored_bytes: u64,
}

/// One segment of the dump and what was measured writing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestSegment {
    /// Position in the dump (the plain script is the segments in this order).
    pub index: usize,
    /// The segment's number in the archive.
    pub archive_segment: u32,
    /// `pre-data`, `table-data` or `post-data`.
    pub kind: String,
    /// `pre-data`, `post-data` or `data/<schema>.<table>`.
    pub name: String,
    /// Table data: the schema.
    pub schema: Option<String>,
    /// Table data: the table.
    pub table: Option<String>,
    /// Plaintext bytes.
    pub bytes: u64,
    /// Bytes of COPY data (table data).
    pub data_bytes: u64,
    /// Rows (table data).
    pub rows: u64,
    /// SHA-256 of the plaintext, as in the archive's index.
    pub sha256: String,
    /// Bytes as stored in the archive.
    pub stored_bytes: u64,
}

/// One entry of the dump's table of contents (see [`TocEntry`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestTocEntry {
    /// The segment (dump position) holding the entry.
    pub segment: usize,
    /// Byte offset of the entry's text within the segment.
    pub offset: u64,
    /// Length of the text (0 for table data: the whole segment).
    pub len: u64,
    /// pg_dump's entry type.
    pub desc: String,
    /// The entry's name.
    pub tag: String,
    /// The entry's schema.
    pub namespace: Option<String>,
    /// The statement that drops the entry's object (for restore `--clean`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub drop: String,
}

/// What the archive target recorded for one segment.
#[derive(Debug, Clone)]
pub(crate) struct WrittenSegment {
    pub archive_segment: u32,
    pub info: SegmentInfo,
    pub stats: SegmentStats,
}

/// Facts about a backup run that the dump does not know.
#[derive(Debug, Clone)]
pub(crate) struct RunFacts {
    pub id: String,
    pub started_at: String,
    pub finished_at: String,
    pub tag: Option<String>,
    pub options: ManifestOptions,
}

/// The name the archive and the manifest give a segment kind.
pub(crate) fn kind_name(kind: SegmentKind) -> &'static str {
    match kind {
        SegmentKind::PreData => "pre-data",
        SegmentKind::TableData => "table-data",
        SegmentKind::PostData => "post-data",
    }
}

fn kind_from_name(name: &str) -> Option<SegmentKind> {
    match name {
        "pre-data" => Some(SegmentKind::PreData),
        "table-data" => Some(SegmentKind::TableData),
        "post-data" => Some(SegmentKind::PostData),
        _ => None,
    }
}

impl Manifest {
    /// Builds the manifest of a finished dump; `written` maps each dump position to
    /// what the archive recorded for it.
    pub(crate) fn build(
        run: RunFacts,
        dump: &SegmentedDump,
        written: &BTreeMap<usize, WrittenSegment>,
    ) -> Result<Manifest> {
        let mut segments = Vec::with_capacity(dump.segments.len());
        let mut totals = Totals::default();
        for (spec, _) in &dump.segments {
            let w = written.get(&spec.index).ok_or_else(|| {
                Error::internal(format!(
                    "segment {} ({}) was not written",
                    spec.index, spec.name
                ))
            })?;
            if spec.kind == SegmentKind::TableData {
                totals.tables += 1;
                totals.rows += w.stats.rows;
                totals.data_bytes += w.stats.data_bytes;
            }
            totals.plaintext_bytes += w.info.plaintext_size;
            totals.stored_bytes += w.info.stored_size;
            segments.push(ManifestSegment {
                index: spec.index,
                archive_segment: w.archive_segment,
                kind: kind_name(spec.kind).to_string(),
                name: spec.name.clone(),
                schema: spec.schema.clone(),
                table: spec.table.clone(),
                bytes: w.info.plaintext_size,
                data_bytes: w.stats.data_bytes,
                rows: w.stats.rows,
                sha256: w.info.plaintext_sha256.clone(),
                stored_bytes: w.info.stored_size,
            });
        }
        let mut object_counts = BTreeMap::new();
        for e in &dump.toc {
            *object_counts.entry(e.desc.clone()).or_insert(0) += 1;
        }
        Ok(Manifest {
            format: MANIFEST_FORMAT.to_string(),
            version: MANIFEST_VERSION,
            id: run.id,
            pgbm_version: env!("CARGO_PKG_VERSION").to_string(),
            database: dump.database.clone(),
            server_version: dump.server_version.clone(),
            server_version_num: dump.server_version_num,
            snapshot_time: dump.snapshot_time.clone(),
            started_at: run.started_at,
            finished_at: run.finished_at,
            tag: run.tag,
            options: run.options,
            totals,
            object_counts,
            segments,
            toc: dump.toc.iter().map(ManifestTocEntry::from).collect(),
        })
    }

    /// Reads the manifest of an archive's footer and checks it against the archive's
    /// own index (`segments`).
    ///
    /// # Errors
    /// [`ErrorKind::Corrupt`] if it is not a pgbm backup manifest of a version this
    /// build reads, or disagrees with the archive's index.
    pub fn from_archive(value: &serde_json::Value, segments: &[SegmentInfo]) -> Result<Manifest> {
        let corrupt =
            |why: String| Error::new(ErrorKind::Corrupt, format!("backup manifest: {why}"));
        if value.get("format").and_then(|f| f.as_str()) != Some(MANIFEST_FORMAT) {
            return Err(corrupt(
                "not a pgbm backup (no pgbm-backup manifest)".into(),
            ));
        }
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(MANIFEST_VERSION)) {
            return Err(corrupt(format!(
                "version {version:?} is not supported by this pgbm (it reads version {MANIFEST_VERSION})"
            )));
        }
        let m: Manifest = serde_json::from_value(value.clone())
            .map_err(|e| corrupt(format!("malformed: {e}")))?;
        m.check(segments).map_err(corrupt)?;
        Ok(m)
    }

    /// The manifest must describe the archive it is in: every segment once, with the
    /// archive's SHA-256, in dump order, and TOC entries pointing at real segments.
    fn check(&self, archive: &[SegmentInfo]) -> std::result::Result<(), String> {
        if self.segments.len() != archive.len() {
            return Err(format!(
                "lists {} segments, the archive has {}",
                self.segments.len(),
                archive.len()
            ));
        }
        let mut seen = vec![false; archive.len()];
        for (pos, s) in self.segments.iter().enumerate() {
            let n = s.archive_segment as usize;
            let info = archive
                .get(n)
                .ok_or_else(|| format!("segment {} names archive segment {n}", s.index))?;
            if std::mem::replace(&mut seen[n], true) {
                return Err(format!("archive segment {n} is listed twice"));
            }
            if info.plaintext_sha256 != s.sha256 || info.plaintext_size != s.bytes {
                return Err(format!(
                    "segment {} disagrees with the archive index",
                    s.name
                ));
            }
            if pos > 0 && self.segments[pos - 1].index >= s.index {
                return Err("segments are not in dump order".into());
            }
            if kind_from_name(&s.kind).is_none() {
                return Err(format!("segment {} has unknown kind {:?}", s.name, s.kind));
            }
        }
        let indexes: std::collections::HashSet<usize> =
            self.segments.iter().map(|s| s.index).collect();
        if let Some(e) = self.toc.iter().find(|e| !indexes.contains(&e.segment)) {
            return Err(format!("TOC entry {} {} names no segment", e.desc, e.tag));
        }
        Ok(())
    }

    /// The segments as the segmented restore takes them.
    pub fn segment_specs(&self) -> Vec<SegmentSpec> {
        self.segments
            .iter()
            .map(|s| SegmentSpec {
                index: s.index,
                kind: kind_from_name(&s.kind).unwrap_or(SegmentKind::PostData),
                name: s.name.clone(),
                schema: s.schema.clone(),
                table: s.table.clone(),
            })
            .collect()
    }

    /// The table of contents as the segmented restore takes it.
    pub fn toc_entries(&self) -> Vec<TocEntry> {
        self.toc
            .iter()
            .map(|e| TocEntry {
                segment: e.segment,
                offset: e.offset,
                len: e.len,
                desc: e.desc.clone(),
                tag: e.tag.clone(),
                namespace: e.namespace.clone(),
                drop: e.drop.clone(),
            })
            .collect()
    }

    /// Total number of dump entries.
    pub fn object_count(&self) -> u64 {
        self.object_counts.values().sum()
    }

    /// The table data segments.
    pub fn tables(&self) -> impl Iterator<Item = &ManifestSegment> {
        self.segments.iter().filter(|s| s.kind == "table-data")
    }
}

impl From<&TocEntry> for ManifestTocEntry {
    fn from(e: &TocEntry) -> Self {
        ManifestTocEntry {
            segment: e.segment,
            offset: e.offset,
            len: e.len,
            desc: e.desc.clone(),
            tag: e.tag.clone(),
            namespace: e.namespace.clone(),
            drop: e.drop.clone(),
        }
    }
}
