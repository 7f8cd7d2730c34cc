//! Backups through a repository (`pgbm_core::backup`): the fixture corpus round-trips
//! through backup and restore, encrypted or not, with one job or several; the script of
//! a backup is the plain dump; verify tells good archives from damaged ones; wrong keys
//! and missing backups fail as such; a selective restore restores one table; an
//! interrupted backup leaves nothing in the repository. Local directories and S3
//! (the shared moto server of `pgbm_testing::s3`) both.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pgbm_core::backup::{BackupStatus, Progress};
use pgbm_core::crypto::{KdfParams, KeyFileKey, KeySource, Passphrase, PassphraseKey};
use pgbm_core::storage::OpenOptions;
use pgbm_core::{Backup, BackupOptions, DumpOptions, ErrorKind, Repository, RestoreOptions};
use pgbm_testing::s3::MotoServer;
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
    ] {
        let id = take_backup(source.db(), &repo, &options(enc, n).await).await;
        let db = restore_fresh(&repo, &id, &keys(enc), jobs(n), "bk_rt").await;
        assert_same_database(source, &db, &format!("backup {enc:?}, {n} jobs"));
    }
    let listed = repo.list(&KeySource::new()).await.unwrap();
    assert_eq!(listed.len(), 4);
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
        let damaged: [(&str, Damage); 6] = [
            ("header byte", Box::new(|b| b[20] ^= 1)),
            ("key slot or checksum byte", Box::new(|b| b[60] ^= 0x80)),
            ("frame byte", Box::new(|b| b[200] ^= 1)),
            ("trailer byte", Box::new(move |b| b[len - 30] ^= 1)),
            ("footer byte", Box::new(move |b| b[len - 60] ^= 1)),
            ("truncation", Box::new(move |b| b.truncate(len - 100))),
        ];
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
    let source = Source::get("constraints").await;
    let (bucket, repo) = s3_repo("bk_rt").await;
    for enc in [Encryption::None, Encryption::Passphrase] {
        let id = take_backup(source.db(), &repo, &options(enc, 2).await).await;
        let db = restore_fresh(&repo, &id, &keys(enc), jobs(2), "bk_s3").await;
        assert_same_database(source, &db, &format!("S3 backup, {enc:?}"));
    }
    let listed = repo.list(&KeySource::new()).await.unwrap();
    assert_eq!(listed.len(), 2);
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
