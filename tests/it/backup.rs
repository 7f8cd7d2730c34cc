//! Backups through a repository (`pgbm_core::backup`): the fixture corpus round-trips
//! through backup and restore, encrypted or not, with one job or several; the script of
//! a backup is the plain dump; verify tells good archives from damaged ones (changed
//! bytes, truncations, swapped and spliced frames); wrong keys and missing backups fail
//! as such; a selective restore restores one table; an interrupted backup, or one whose
//! S3 endpoint stops mid-upload, leaves nothing in the repository. Local directories
//! and S3 (the shared moto server of `pgbm_testing::s3`) both.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pgbm_core::archive::Compression;
use pgbm_core::backup::{BackupStatus, Progress};
use pgbm_core::crypto::{KdfParams, KeyFileKey, KeySource, Passphrase, PassphraseKey};
use pgbm_core::storage::{Backoff, OpenOptions};
use pgbm_core::{Backup, BackupOptions, DumpOptions, ErrorKind, Repository, RestoreOptions};
use pgbm_testing::s3::{is_upload_part, FaultyProxy, MotoServer};
use pgbm_testing::{PgCluster, TestDb};

use crate::support::dumptext::normalize;
use crate::support::tools::{pgbm_dump_text, within_limit};
use crate::support::{assert_same_database, Source};

/// PBKDF2 iterations for test passphrases: the format allows any count, and the
/// default (600,000) would make every encrypted test pay about a second.
const TEST_ITERATIONS: u32 = 1_000;

/// How a test backup is encrypted.
#[derive(Debug, Clone, Copy)]
enum Encryption {
    None,
    Passphrase,
    KeyFile,
}

/// Fixed test keys (their values do not matter, only that tests agree on them).
fn test_key() -> KeyFileKey {
    KeyFileKey::from_bytes([7u8; 32])
}

const PASSPHRASE: &str = "correct horse battery staple";

async fn options(enc: Encryption, jobs: usize) -> BackupOptions {
    let opts = BackupOptions::default().with_jobs(jobs);
    match enc {
        Encryption::None => opts,
        Encryption::Passphrase => {
            let params = KdfParams::random_with_iterations(TEST_ITERATIONS).unwrap();
            let key = PassphraseKey::derive_async(&Passphrase::new(PASSPHRASE), params)
                .await
                .unwrap();
            opts.with_passphrase_key(key)
        }
        Encryption::KeyFile => opts.with_key_file(test_key()),
    }
}

/// The keys that open backups made with `enc`.
fn keys(enc: Encryption) -> KeySource {
    match enc {
        Encryption::None => KeySource::new(),
        Encryption::Passphrase => KeySource::new().with_passphrase(Passphrase::new(PASSPHRASE)),
        Encryption::KeyFile => KeySource::new().with_key_file(test_key()),
    }
}

async fn repo_at(dir: &Path) -> Repository {
    Repository::open(dir.to_str().unwrap()).await.unwrap()
}

/// Backs `db` up into `repo`; returns the id.
async fn take_backup(db: &TestDb, repo: &Repository, opts: &BackupOptions) -> String {
    let summary = within_limit(
        "backup",
        pgbm_core::backup(&db.conn_options(), repo, opts, Arc::new(Progress::new())),
    )
    .await
    .unwrap_or_else(|e| panic!("backup of {} failed: {e} ({e:?})", db.name()));
    summary.entry.id
}

/// Restores backup `id` into a fresh database.
async fn restore_fresh(
    repo: &Repository,
    id: &str,
    keys: &KeySource,
    opts: RestoreOptions,
    prefix: &str,
) -> TestDb {
    let backup = repo.open_backup(id, keys).await.unwrap();
    let db = PgCluster::shared().fresh_db(prefix);
    within_limit(
        "restore of a backup",
        backup.restore(&db.conn_options(), &opts, Arc::new(Progress::new())),
    )
    .await
    .unwrap_or_else(|e| panic!("restore of backup {id} failed: {e} ({e:?})"));
    db
}

fn jobs(n: usize) -> RestoreOptions {
    let mut opts = RestoreOptions::default();
    opts.jobs = n;
    opts
}

#[tokio::test]
async fn every_fixture_round_trips_plain_and_encrypted_with_one_and_four_jobs() {
    let source = Source::get(crate::support::fixtures::ALL).await;
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_at(dir.path()).await;
    for (enc, n) in [
        (Encryption::None, 1),
        (Encryption::Passphrase, 4),
        (Encryption::KeyFile, 4),
        (Encryption::None, 4),
        (Encryption::KeyFile, 1),
    ] {
        let id = take_backup(source.db(), &repo, &options(enc, n).await).await;
        let db = restore_fresh(&repo, &id, &keys(enc), jobs(n), "bk_rt").await;
        assert_same_database(source, &db, &format!("backup {enc:?}, {n} jobs"));
    }
    let listed = repo.list(&KeySource::new()).await.unwrap();
    assert_eq!(listed.len(), 5);
    assert!(listed.iter().all(|e| e.status == BackupStatus::Complete));
    assert!(listed.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    assert_eq!(listed[1].encryption, "aes-256-gcm");
    assert_eq!(listed[0].encryption, "none");
    assert!(listed[0].tables > 0 && listed[0].rows > 0 && listed[0].objects > 0);
}

#[tokio::test]
async fn the_script_of_a_backup_is_the_plain_dump() {
    let source = Source::get("data_edge").await;
    let plain = pgbm_dump_text(source.db(), &DumpOptions::default(), "data_edge").await;
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_at(dir.path()).await;
    let id = take_backup(source.db(), &repo, &options(Encryption::KeyFile, 4).await).await;
    let backup = repo
        .open_backup("latest", &keys(Encryption::KeyFile))
        .await
        .unwrap();
    assert_eq!(backup.id(), id);
    let mut script = Vec::new();
    let n = backup.write_script(&mut script).await.unwrap();
    assert_eq!(n, script.len() as u64);
    let script = String::from_utf8(script).unwrap();
    assert_eq!(normalize(&script), normalize(&plain));
}

#[tokio::test]
async fn the_manifest_records_counts_and_checksums() {
    let source = Source::get("constraints").await;
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_at(dir.path()).await;
    take_backup(source.db(), &repo, &options(Encryption::None, 2).await).await;
    let backup = repo.open_backup("latest", &KeySource::new()).await.unwrap();
    let m = backup.manifest();
    assert_eq!(m.database, source.db().name());
    assert!(m.server_version_num >= 130_000);
    assert!(m.object_counts.get("TABLE").copied().unwrap_or(0) > 0);
    let client = source.db().client().await;
    for t in m.tables() {
        let name = format!(
            "{}.{}",
            t.schema.as_ref().unwrap(),
            t.table.as_ref().unwrap()
        );
        let rows: i64 = client
            .query_one(&format!("SELECT count(*) FROM ONLY {name}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(t.rows, u64::try_from(rows).unwrap(), "{name}");
        assert_eq!(t.sha256.len(), 64);
    }
    assert_eq!(m.totals.tables, m.tables().count() as u64);
    // The archive's own index agrees (checked again by opening), and the sidecar has
    // the same listing data as the manifest.
    let listed = repo.list(&KeySource::new()).await.unwrap();
    assert_eq!(listed[0], backup.entry());
}

#[tokio::test]
async fn verify_passes_on_good_archives_and_restore_to_drops_its_scratch_database() {
    let source = Source::get("indexes").await;
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_at(dir.path()).await;
    take_backup(
        source.db(),
        &repo,
        &options(Encryption::Passphrase, 2).await,
    )
    .await;
    let backup = repo
        .open_backup("latest", &keys(Encryption::Passphrase))
        .await
        .unwrap();
    let progress = Progress::new();
    let report = backup.verify(&progress).await.unwrap();
    assert_eq!(report.segments, backup.manifest().segments.len() as u64);
    assert_eq!(
        report.plaintext_bytes,
        backup.manifest().totals.plaintext_bytes
    );
    let seen = progress.snapshot();
    assert_eq!(seen.bytes, report.plaintext_bytes);
    assert_eq!(seen.rows, backup.manifest().totals.rows);
    assert_eq!(seen.tables_done, backup.manifest().totals.tables);

    let check = within_limit(
        "restore check",
        backup.restore_check(&source.db().conn_options(), 2, Arc::new(Progress::new())),
    )
    .await
    .unwrap();
    assert_eq!(check.tables, backup.manifest().totals.tables);
    assert_eq!(check.rows, backup.manifest().totals.rows);
    let left: i64 = PgCluster::shared()
        .db("postgres")
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&check.database],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        left, 0,
        "the scratch database {} was not dropped",
        check.database
    );
}

/// The path of the only archive in `dir`'s repository.
fn archive_path(dir: &Path) -> std::path::PathBuf {
    let archives: Vec<_> = std::fs::read_dir(dir.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pgbm"))
        .collect();
    assert_eq!(archives.len(), 1, "{archives:?}");
    archives.into_iter().next().unwrap()
}

/// A way of damaging an archive's bytes.
type Damage = Box<dyn Fn(&mut Vec<u8>)>;

/// Opens and verifies the archive at `path`: the first error, if any.
async fn open_and_verify(path: &Path, keys: &KeySource) -> pgbm_core::Result<()> {
    let backup = Backup::open_file(path, keys).await?;
    backup.verify(&Progress::new()).await.map(|_| ())
}

#[tokio::test]
async fn verify_fails_on_damaged_archives() {
    let source = Source::get("data_edge").await;
    for enc in [Encryption::None, Encryption::KeyFile] {
        let dir = tempfile::tempdir().unwrap();
        let repo = repo_at(dir.path()).await;
        take_backup(source.db(), &repo, &options(enc, 2).await).await;
        let path = archive_path(dir.path());
        let good = std::fs::read(&path).unwrap();
        open_and_verify(&path, &keys(enc)).await.unwrap();
        let len = good.len();
        let mut damaged: Vec<(String, Damage)> = vec![
            ("header byte".into(), Box::new(|b| b[20] ^= 1)),
            (
                "key slot or checksum byte".into(),
                Box::new(|b| b[60] ^= 0x80),
            ),
            ("frame byte".into(), Box::new(|b| b[200] ^= 1)),
            ("trailer byte".into(), Box::new(move |b| b[len - 30] ^= 1)),
            ("footer byte".into(), Box::new(move |b| b[len - 60] ^= 1)),
            (
                "truncation".into(),
                Box::new(move |b| b.truncate(len - 100)),
            ),
        ];
        // Truncated in every part of the archive, and at the borders between parts.
        let (header, footer) = (header_len(&good), footer_offset(&good));
        for at in [
            30,
            header - 1,
            header,
            header + (footer - header) / 2,
            footer,
            len - 41,
            len - 40,
            len - 1,
        ] {
            damaged.push((
                format!("truncation to {at} bytes"),
                Box::new(move |b| b.truncate(at)),
            ));
        }
        for (what, damage) in damaged {
            let mut bytes = good.clone();
            damage(&mut bytes);
            std::fs::write(&path, &bytes).unwrap();
            let err = open_and_verify(&path, &keys(enc))
                .await
                .expect_err(&format!("{enc:?}: a damaged {what} went unnoticed"));
            assert_eq!(err.kind(), ErrorKind::Corrupt, "{enc:?}, {what}: {err}");
        }
        std::fs::write(&path, &good).unwrap();
    }
}

/// The archive header's length (its fixed part says).
fn header_len(archive: &[u8]) -> usize {
    u32::from_le_bytes(archive[40..44].try_into().unwrap()) as usize
}

/// Where the footer starts (the trailer says).
fn footer_offset(archive: &[u8]) -> usize {
    let trailer = &archive[archive.len() - 40..];
    usize::try_from(u64::from_le_bytes(trailer[..8].try_into().unwrap())).unwrap()
}

/// The frames of an unencrypted, uncompressed archive, whose footer (index and
/// manifest) is JSON in the clear: (offset in the data area, stored length), in
/// offset order.
fn data_area_frames(archive: &[u8]) -> Vec<(usize, usize)> {
    let trailer = &archive[archive.len() - 40..];
    let stored = usize::try_from(u64::from_le_bytes(trailer[8..16].try_into().unwrap())).unwrap();
    let start = footer_offset(archive);
    // The stored footer is the JSON followed by its 16-byte tag.
    let footer: serde_json::Value =
        serde_json::from_slice(&archive[start..start + stored - 16]).unwrap();
    let mut frames: Vec<(usize, usize)> = footer["segments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|segment| segment["frames"].as_array().unwrap().clone())
        .map(|f| {
            let n = |i: usize| usize::try_from(f[i].as_u64().unwrap()).unwrap();
            (n(0), n(1))
        })
        .collect();
    frames.sort_unstable();
    frames
}

/// Checks that `bytes`, written over the archive at `path`, fail to verify as corrupt
/// with an error that names a frame.
async fn expect_corrupt_frame(path: &Path, bytes: &[u8], keys: &KeySource, what: &str) {
    std::fs::write(path, bytes).unwrap();
    let err = open_and_verify(path, keys)
        .await
        .expect_err(&format!("{what} went unnoticed"));
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{what}: {err}");
    assert!(err.to_string().contains("frame"), "{what}: {err}");
}

/// Two frames swapped, a frame spliced in from another archive of the same database
/// (same options, same data: a frame of the same length in the same place) and a
/// changed index entry all fail `verify`, encrypted or not. The archives are
/// uncompressed and made with one job, so that an encrypted archive's frames lie where
/// those of its unencrypted twin do, whose index can be read without a key.
#[tokio::test]
async fn verify_fails_on_swapped_and_spliced_frames_and_a_changed_index() {
    let source = Source::get("data_edge").await;
    let mut archives = Vec::new();
    for enc in [
        Encryption::None,
        Encryption::None,
        Encryption::KeyFile,
        Encryption::KeyFile,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let repo = repo_at(dir.path()).await;
        let opts = options(enc, 1).await.with_compression(Compression::None);
        take_backup(source.db(), &repo, &opts).await;
        let bytes = std::fs::read(archive_path(dir.path())).unwrap();
        archives.push((enc, dir, bytes));
    }
    let twin = &archives[0].2;
    let frames = data_area_frames(twin);
    assert!(frames.len() >= 3, "{frames:?}");
    let data_len = footer_offset(twin) - header_len(twin);
    // The biggest frame (table data): spliced from the other archive.
    let (spliced_at, spliced_len) = *frames.iter().max_by_key(|f| f.1).unwrap();
    for pair in archives.chunks(2) {
        let (enc, dir, good) = &pair[0];
        let other = &pair[1].2;
        let path = archive_path(dir.path());
        let (h, other_h) = (header_len(good), header_len(other));
        for archive in [good, other] {
            assert_eq!(
                footer_offset(archive) - header_len(archive),
                data_len,
                "{enc:?}: the frames lie as in the unencrypted twin"
            );
        }
        open_and_verify(&path, &keys(*enc)).await.unwrap();

        // The first two frames in the data area, swapped.
        let ((a, a_len), (b, b_len)) = (frames[0], frames[1]);
        assert_eq!(a + a_len, b, "adjacent");
        let mut swapped = good.clone();
        let mut moved = good[h + b..h + b + b_len].to_vec();
        moved.extend_from_slice(&good[h + a..h + a + a_len]);
        swapped.splice(h + a..h + b + b_len, moved);
        let what = format!("{enc:?}: two frames swapped");
        expect_corrupt_frame(&path, &swapped, &keys(*enc), &what).await;

        let mut spliced = good.clone();
        spliced[h + spliced_at..h + spliced_at + spliced_len]
            .copy_from_slice(&other[other_h + spliced_at..other_h + spliced_at + spliced_len]);
        assert_ne!(
            &spliced, good,
            "the other archive's frame differs (its tag)"
        );
        let what = format!("{enc:?}: a frame spliced from another archive");
        expect_corrupt_frame(&path, &spliced, &keys(*enc), &what).await;
        std::fs::write(&path, good).unwrap();
    }

    // The unencrypted index, changed in one digit of a segment's checksum (still
    // well-formed JSON): the footer's tag catches it.
    let (_, dir, good) = &archives[0];
    let path = archive_path(dir.path());
    let text = String::from_utf8_lossy(good);
    let key = "\"plaintext_sha256\":\"";
    let at = text.find(key).expect("a checksum in the clear index") + key.len();
    assert!(
        at > footer_offset(good),
        "the checksum found is the index's"
    );
    let mut changed = good.clone();
    changed[at] = if changed[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&path, &changed).unwrap();
    let err = open_and_verify(&path, &KeySource::new())
        .await
        .expect_err("a changed index went unnoticed");
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
}

#[tokio::test]
async fn wrong_keys_and_missing_backups_fail_as_such() {
    let source = Source::get("schemas").await;
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_at(dir.path()).await;
    let id = take_backup(
        source.db(),
        &repo,
        &options(Encryption::Passphrase, 1).await,
    )
    .await;
    let wrong = KeySource::new().with_passphrase(Passphrase::new("not it"));
    let err = repo.open_backup(&id, &wrong).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongKey);
    assert!(err.to_string().contains("wrong passphrase or key"), "{err}");
    let err = repo.open_backup(&id, &KeySource::new()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongKey);

    let err = repo
        .open_backup("20200101T000000Z", &wrong)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("not found"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = repo_at(empty.path())
        .await
        .open_backup("latest", &wrong)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // Without its sidecar, an encrypted backup lists from its manifest with the key,
    // and as locked without it.
    std::fs::remove_file(dir.path().join(format!("backups/{id}.json"))).unwrap();
    let listed = repo.list(&KeySource::new()).await.unwrap();
    assert_eq!(listed[0].status, BackupStatus::Locked);
    let listed = repo.list(&keys(Encryption::Passphrase)).await.unwrap();
    assert_eq!(listed[0].status, BackupStatus::Complete);
    assert_eq!(listed[0].database, source.db().name());
}

#[tokio::test]
async fn selective_restore_restores_one_table_alone() {
    let source = Source::get("constraints").await;
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_at(dir.path()).await;
    let id = take_backup(source.db(), &repo, &options(Encryption::None, 2).await).await;
    let mut opts = jobs(2);
    opts.tables = vec!["constraints.tree".into()];
    let db = restore_fresh(&repo, &id, &KeySource::new(), opts, "bk_sel").await;
    let client = db.client().await;
    let tables: Vec<String> = client
        .query(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tables, ["constraints.tree"]);
    let count = "SELECT count(*) FROM constraints.tree";
    let got: i64 = client.query_one(count, &[]).await.unwrap().get(0);
    let want: i64 = source
        .db()
        .client()
        .await
        .query_one(count, &[])
        .await
        .unwrap()
        .get(0);
    assert!(got > 0);
    assert_eq!(got, want);
}

#[tokio::test]
async fn clean_restores_over_an_existing_copy() {
    let source = Source::get("constraints").await;
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_at(dir.path()).await;
    let id = take_backup(source.db(), &repo, &options(Encryption::None, 2).await).await;
    let db = restore_fresh(&repo, &id, &KeySource::new(), jobs(2), "bk_clean").await;
    // The copy changes; a clean restore puts it back as it was.
    db.execute_sql("DELETE FROM constraints.booking; CREATE TABLE public.extra (x int);")
        .await;
    let backup = repo.open_backup(&id, &KeySource::new()).await.unwrap();
    let mut opts = jobs(2);
    let err = backup
        .restore(&db.conn_options(), &opts, Arc::new(Progress::new()))
        .await
        .expect_err("restoring over existing objects without --clean fails");
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    opts.clean = true;
    opts.if_exists = true;
    within_limit(
        "clean restore",
        backup.restore(&db.conn_options(), &opts, Arc::new(Progress::new())),
    )
    .await
    .unwrap_or_else(|e| panic!("clean restore failed: {e}"));
    // pg_restore --clean drops only what the backup holds: the extra table stays.
    db.execute_sql("DROP TABLE public.extra;").await;
    assert_same_database(source, &db, "clean restore over a changed copy");

    // --clean --create drops and recreates the whole database.
    let mut opts = jobs(1);
    opts.clean = true;
    opts.if_exists = true;
    opts.create = true;
    opts.target_db = Some(db.name().to_string());
    let server = PgCluster::shared().db("postgres").conn_options();
    within_limit(
        "clean create restore",
        backup.restore(&server, &opts, Arc::new(Progress::new())),
    )
    .await
    .unwrap_or_else(|e| panic!("clean create restore failed: {e}"));
    assert_same_database(source, &db, "clean create restore");
}

/// Every file in `dir`, recursively, relative to it.
fn files_in(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out
}

/// A database with one table of about 130 MB of COPY text that compresses only about
/// twofold (hex digests): a backup of it is still uploading when a test interferes.
async fn big_db(prefix: &str) -> TestDb {
    let payload: Vec<String> = (0..20).map(|i| format!("md5(g::text || '{i}')")).collect();
    let db = PgCluster::shared().fresh_db(prefix);
    db.execute_sql(&format!(
        "CREATE TABLE big (id int, payload text);
         INSERT INTO big SELECT g, {} FROM generate_series(1, 200000) g;",
        payload.join(" || ")
    ))
    .await;
    db
}

/// Runs a backup of `db` into `repo` and, once the archive is being uploaded (and
/// `upload_started` agrees), ends the dump's server sessions under it. Returns the
/// backup's error.
async fn backup_killed_midway(
    db: &TestDb,
    repo: &Repository,
    upload_started: impl Fn() -> bool,
) -> pgbm_core::Error {
    let progress = Arc::new(Progress::new());
    let conn = db.conn_options();
    let opts = BackupOptions::default();
    let run = pgbm_core::backup(&conn, repo, &opts, Arc::clone(&progress));
    tokio::pin!(run);
    // Past the writer's first buffer (8 MiB), the upload is under way.
    let streaming = async {
        while progress.snapshot().stored_bytes < 12 * 1024 * 1024 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::select! {
        result = &mut run => panic!("the backup ended before it could be interrupted: {result:?}"),
        () = streaming => {}
    }
    assert!(
        upload_started(),
        "the archive is uploaded while the dump runs"
    );
    PgCluster::shared()
        .db("postgres")
        .client()
        .await
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&db.name()],
        )
        .await
        .unwrap();
    let result = within_limit("interrupted backup", run).await;
    let err = result.expect_err("the backup should fail when its session is killed");
    assert!(
        matches!(err.kind(), ErrorKind::Connect | ErrorKind::Server),
        "{err:?}"
    );
    err
}

#[tokio::test]
async fn a_backup_that_fails_midway_leaves_nothing_in_the_repository() {
    let db = big_db("bk_fail").await;
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_at(dir.path()).await;
    backup_killed_midway(&db, &repo, || {
        files_in(dir.path())
            .iter()
            .any(|f| f.contains(".pgbm-tmp."))
    })
    .await;
    assert_eq!(files_in(dir.path()), Vec::<String>::new(), "left behind");
    assert!(repo.list(&KeySource::new()).await.unwrap().is_empty());
}

/// A repository in a new bucket of the shared moto server, under a prefix.
async fn s3_repo(hint: &str) -> (String, Repository) {
    let moto = MotoServer::shared();
    let bucket = moto.create_bucket(hint);
    let mut options = OpenOptions::default();
    options.s3 = moto.s3_options();
    let repo = Repository::open_with(&format!("s3://{bucket}/team/prod"), &options)
        .await
        .unwrap();
    (bucket, repo)
}

#[tokio::test]
async fn s3_backups_round_trip_and_list() {
    let source = Source::get(crate::support::fixtures::ALL).await;
    let (bucket, repo) = s3_repo("bk_rt").await;
    let runs = [
        (Encryption::None, 1),
        (Encryption::Passphrase, 4),
        (Encryption::KeyFile, 1),
        (Encryption::None, 4),
    ];
    for (enc, n) in runs {
        let id = take_backup(source.db(), &repo, &options(enc, n).await).await;
        let db = restore_fresh(&repo, &id, &keys(enc), jobs(n), "bk_s3").await;
        assert_same_database(source, &db, &format!("S3 backup, {enc:?}, {n} jobs"));
    }
    let listed = repo.list(&KeySource::new()).await.unwrap();
    assert_eq!(listed.len(), runs.len());
    let mut keys_seen = MotoServer::shared().object_keys(&bucket);
    keys_seen.sort();
    let want: Vec<String> = listed
        .iter()
        .flat_map(|e| {
            [
                format!("team/prod/backups/{}.json", e.id),
                format!("team/prod/backups/{}.pgbm", e.id),
            ]
        })
        .collect();
    assert_eq!(keys_seen, want);
}

#[tokio::test]
async fn an_s3_backup_that_fails_midway_leaves_no_object_and_no_upload() {
    let db = big_db("bk_s3fail").await;
    let (bucket, repo) = s3_repo("bk_fail").await;
    let moto = MotoServer::shared();
    backup_killed_midway(&db, &repo, || !moto.multipart_uploads(&bucket).is_empty()).await;
    // The abort of a dropped upload finishes in the background.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !moto.multipart_uploads(&bucket).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(moto.multipart_uploads(&bucket), Vec::<String>::new());
    assert_eq!(moto.object_keys(&bucket), Vec::<String>::new());
}

/// The S3 endpoint stops taking the archive mid-upload (every part after the first is
/// cut, as by a server that went away while the backup ran): the backup fails, its
/// multipart upload is aborted, and the bucket holds no object and no open upload.
#[tokio::test]
async fn an_s3_endpoint_that_stops_mid_upload_leaves_no_object_and_no_upload() {
    let db = big_db("bk_s3stop").await;
    let moto = MotoServer::shared();
    let bucket = moto.create_bucket("bk_stop");
    let proxy = FaultyProxy::start(moto.port(), |line| {
        line.contains("partNumber=") && !is_upload_part(line, 1)
    });
    // Few, quick retries: every attempt of part 2 is cut.
    let backoff = Backoff::new(3, Duration::from_millis(10), Duration::from_millis(50));
    let mut options = OpenOptions::default();
    options.s3 = moto
        .s3_options()
        .with_endpoint(proxy.endpoint())
        .with_backoff(backoff);
    options.backoff = backoff;
    let repo = Repository::open_with(&format!("s3://{bucket}/team/prod"), &options)
        .await
        .unwrap();
    let (conn, opts) = (db.conn_options(), BackupOptions::default());
    let run = pgbm_core::backup(&conn, &repo, &opts, Arc::new(Progress::new()));
    let err = within_limit("backup to a stopped S3 endpoint", run)
        .await
        .expect_err("a backup whose upload cannot finish must fail");
    assert!(proxy.cut_requests() > 0, "no part was cut: {err}");
    assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !moto.multipart_uploads(&bucket).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(moto.multipart_uploads(&bucket), Vec::<String>::new());
    assert_eq!(moto.object_keys(&bucket), Vec::<String>::new());
    assert!(repo.list(&KeySource::new()).await.unwrap().is_empty());
}
