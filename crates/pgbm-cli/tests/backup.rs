//! End-to-end tests of the repository commands (`backup`, `list`, `cat`, `verify`,
//! `restore` of a backup, `key generate`) against a real server: output, exit codes
//! and what is left in the repository.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::assert::Assert;
use pgbm_testing::s3::MotoServer;
use pgbm_testing::{PgCluster, TestDb};
use serde_json::Value;
use support::{pgbm, pgbm_process, query_i64};

/// PBKDF2 iterations for test passphrases (the default costs about a second each).
const TEST_ITERATIONS: &str = "1000";

fn stdout(assert: &Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

fn stderr(assert: &Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

fn json(assert: &Assert) -> Value {
    serde_json::from_slice(&assert.get_output().stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(assert)))
}

/// A small database with a few tables, an index and a foreign key.
fn sample_db(prefix: &str) -> TestDb {
    let db = PgCluster::shared().fresh_db(prefix);
    db.execute_sql_blocking(
        "CREATE SCHEMA app;
         CREATE TABLE app.customers (id int PRIMARY KEY, name text NOT NULL);
         CREATE TABLE app.orders (id int PRIMARY KEY, customer int REFERENCES app.customers,
                                  note text);
         CREATE INDEX orders_customer ON app.orders (customer);
         CREATE TABLE public.events (at timestamptz, payload jsonb);
         INSERT INTO app.customers SELECT g, 'customer ' || g FROM generate_series(1, 500) g;
         INSERT INTO app.orders SELECT g, 1 + g % 500, repeat('x', g % 50)
           FROM generate_series(1, 3000) g;
         INSERT INTO public.events SELECT '2026-01-01'::timestamptz + g * interval '1 min',
           jsonb_build_object('n', g) FROM generate_series(1, 1000) g;",
    );
    db
}

/// `\restrict KEY` lines carry a random key per dump.
fn normalize(script: &str) -> String {
    script
        .lines()
        .map(|l| {
            if l.starts_with("\\restrict ") || l.starts_with("\\unrestrict ") {
                l.split(' ').next().unwrap_or(l)
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn count(db: &TestDb, table: &str) -> Option<i64> {
    query_i64(db, &format!("SELECT count(*) FROM {table}"))
}

fn repo_files(repo: &Path) -> Vec<String> {
    let dir = repo.join("backups");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn repo_arg(dir: &Path) -> String {
    dir.to_str().unwrap().to_string()
}

#[test]
fn backup_list_cat_and_restore_with_json() {
    let db = sample_db("cli_bk");
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_arg(dir.path());

    // Default output: the id alone.
    let plain = pgbm()
        .args(["backup", &db.conninfo(), "--repo", &repo])
        .assert()
        .success();
    let first_id = stdout(&plain).trim().to_string();
    assert_eq!(first_id.len(), 25, "{first_id:?}");

    let out = pgbm()
        .args(["backup", "-d", &db.conninfo(), "--repo", &repo, "-j", "2"])
        .args(["--tag", "nightly", "--compress", "none", "--json"])
        .assert()
        .success();
    let b = json(&out);
    assert_eq!(b["command"], "backup");
    let id = b["id"].as_str().unwrap().to_string();
    assert_eq!(b["database"], db.name());
    assert_eq!(b["tag"], "nightly");
    assert_eq!(b["tables"], 3);
    assert_eq!(b["rows"], 4500);
    assert_eq!(b["compression"], "none");
    assert_eq!(b["encryption"], "none");
    assert!(b["size_bytes"].as_u64().unwrap() > b["data_bytes"].as_u64().unwrap());
    assert!(b["elapsed_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(
        repo_files(dir.path()),
        [
            format!("{first_id}.json"),
            format!("{first_id}.pgbm"),
            format!("{id}.json"),
            format!("{id}.pgbm"),
        ]
    );

    let list = json(
        &pgbm()
            .args(["list", "--repo", &repo, "--json"])
            .assert()
            .success(),
    );
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["id"], id.as_str());
    for field in [
        "id",
        "database",
        "started_at",
        "finished_at",
        "size_bytes",
        "status",
    ] {
        assert!(!list[0][field].is_null(), "list entries have {field}");
    }
    assert_eq!(list[1]["status"], "complete");
    let table = stdout(&pgbm().args(["list", "--repo", &repo]).assert().success());
    assert!(table.starts_with("ID "), "{table}");
    assert!(table.contains(&id) && table.contains("nightly"), "{table}");

    // `cat` is `pgbm dump`, whatever the id form.
    let dumped = stdout(&pgbm().args(["dump", &db.conninfo()]).assert().success());
    for spec in ["latest", &id, &id[..22]] {
        let script = stdout(
            &pgbm()
                .args(["cat", spec, "--repo", &repo])
                .assert()
                .success(),
        );
        assert_eq!(normalize(&script), normalize(&dumped), "cat {spec}");
    }

    // Restore into a database created on the way, with four jobs.
    let target = PgCluster::shared().db(&format!("{}_copy", db.name()));
    let out = pgbm()
        .args(["restore", "latest", "--repo", &repo, "-j", "4", "--create"])
        .args([
            "--target-db",
            target.name(),
            "-d",
            &PgCluster::shared().db("postgres").conninfo(),
        ])
        .arg("--json")
        .assert()
        .success();
    assert_eq!(json(&out)["copy_rows"], 4500);
    for t in ["app.customers", "app.orders", "public.events"] {
        assert_eq!(count(&target, t), count(&db, t), "{t}");
    }
    // One table alone, into an empty database.
    let only = PgCluster::shared().fresh_db("cli_bk_one");
    pgbm()
        .args([
            "restore",
            &id,
            "--repo",
            &repo,
            "-t",
            "app.customers",
            "-d",
            &only.conninfo(),
        ])
        .assert()
        .success();
    assert_eq!(count(&only, "app.customers"), Some(500));
    assert_eq!(
        query_i64(
            &only,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'app'"
        ),
        Some(1)
    );
}

#[test]
fn encrypted_backups_open_with_their_keys_only() {
    let db = sample_db("cli_enc");
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_arg(dir.path());
    let key = dir.path().join("team.key");

    let out = pgbm()
        .args(["key", "generate", "-o"])
        .arg(&key)
        .arg("--json")
        .assert()
        .success();
    let key_id = json(&out)["key_id"].as_str().unwrap().to_string();
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let again = pgbm()
        .args(["key", "generate", "-o"])
        .arg(&key)
        .assert()
        .code(8);
    assert!(stderr(&again).contains("team.key"), "{}", stderr(&again));

    let out = pgbm()
        .env("PGBM_PASSPHRASE", "open sesame")
        .args(["backup", &db.conninfo(), "--repo", &repo, "--json"])
        .args(["--kdf-iterations", TEST_ITERATIONS, "--key-file"])
        .arg(&key)
        .assert()
        .success();
    let b = json(&out);
    assert_eq!(b["encryption"], "aes-256-gcm");
    let slots = b["key_slots"].to_string();
    assert!(
        slots.contains("passphrase") && slots.contains(&key_id),
        "{slots}"
    );

    let dumped = normalize(&stdout(
        &pgbm().args(["dump", &db.conninfo()]).assert().success(),
    ));
    let with_key = pgbm()
        .args(["cat", "latest", "--repo", &repo, "--key-file"])
        .arg(&key)
        .assert()
        .success();
    assert_eq!(normalize(&stdout(&with_key)), dumped);
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, "open sesame\n").unwrap();
    let with_file = pgbm()
        .args(["cat", "latest", "--repo", &repo, "--passphrase-file"])
        .arg(&pw_file)
        .assert()
        .success();
    assert_eq!(normalize(&stdout(&with_file)), dumped);

    for wrong in [Some("not it"), None] {
        let mut cmd = pgbm();
        if let Some(p) = wrong {
            cmd.env("PGBM_PASSPHRASE", p);
        }
        let out = cmd
            .args(["cat", "latest", "--repo", &repo])
            .assert()
            .code(10);
        let err = stderr(&out);
        assert!(stdout(&out).is_empty());
        if wrong.is_some() {
            assert!(err.contains("wrong passphrase or key"), "{err}");
            assert!(
                !err.contains("not it"),
                "the passphrase is never printed: {err}"
            );
        } else {
            assert!(err.contains("give a passphrase or key file"), "{err}");
        }
    }
    // Listing needs no key: the sidecar holds the listing data.
    let list = json(
        &pgbm()
            .args(["list", "--repo", &repo, "--json"])
            .assert()
            .success(),
    );
    assert_eq!(list[0]["database"], db.name());
}

/// The only archive of the repository in `dir`.
fn archive(dir: &Path) -> PathBuf {
    let name = repo_files(dir)
        .into_iter()
        .find(|n| n.ends_with(".pgbm"))
        .expect("an archive");
    dir.join("backups").join(name)
}

#[test]
fn verify_and_its_exit_codes() {
    let db = sample_db("cli_verify");
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_arg(dir.path());
    pgbm()
        .args(["backup", &db.conninfo(), "--repo", &repo])
        .assert()
        .success();

    let ok = pgbm()
        .args(["verify", "latest", "--repo", &repo])
        .assert()
        .success();
    assert!(stdout(&ok).contains(": ok ("), "{}", stdout(&ok));
    let server = PgCluster::shared().db("postgres").conninfo();
    let tested = pgbm()
        .args([
            "verify",
            "latest",
            "--repo",
            &repo,
            "--restore-to",
            &server,
            "--json",
        ])
        .assert()
        .success();
    let v = json(&tested);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["restore_check"]["rows"], 4500);
    let scratch = v["restore_check"]["database"].as_str().unwrap().to_string();
    assert_eq!(
        query_i64(
            &PgCluster::shared().db("postgres"),
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{scratch}'")
        ),
        Some(0)
    );

    // A file outside any repository works the same.
    let path = archive(dir.path());
    pgbm().arg("verify").arg(&path).assert().success();

    let good = std::fs::read(&path).unwrap();
    for (what, offset) in [("a frame", 300), ("the trailer", good.len() - 20)] {
        let mut bad = good.clone();
        bad[offset] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        let out = pgbm()
            .args(["verify", "latest", "--repo", &repo])
            .assert()
            .code(11);
        assert!(
            stderr(&out).starts_with("pgbm: error: "),
            "{what}: {}",
            stderr(&out)
        );
    }
    std::fs::write(&path, &good[..good.len() - 1000]).unwrap();
    pgbm()
        .args(["verify", "latest", "--repo", &repo])
        .assert()
        .code(11);
}

#[test]
fn missing_backups_and_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_arg(dir.path());
    let out = pgbm()
        .args(["cat", "20260101T000000Z", "--repo", &repo])
        .assert()
        .code(12);
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
    pgbm()
        .args(["verify", "latest", "--repo", &repo])
        .assert()
        .code(12);
    pgbm()
        .args(["cat", "/nonexistent/x.pgbm"])
        .assert()
        .code(12);
    // A backup name without a repository says what is missing.
    let out = pgbm().args(["cat", "latest"]).assert().code(2);
    assert!(stderr(&out).contains("--repo"), "{}", stderr(&out));
    let list = pgbm()
        .args(["list", "--repo", &repo, "--json"])
        .assert()
        .success();
    assert_eq!(json(&list), serde_json::json!([]));
}

#[test]
fn usage_errors() {
    for argv in [
        &["backup", "db"][..],
        &["list"],
        &["backup", "db", "--repo", "/tmp/x", "--compress", "lz4"],
        &["backup", "db", "--repo", "/tmp/x", "--jobs", "0"],
        &["restore", "--jobs", "2"],
        &["restore", "--repo", "/tmp/x"],
        &["restore", "--if-exists", "--repo", "/tmp/x", "latest"],
        &["backup", "db", "--repo", "ftp://x/y"],
    ] {
        let out = pgbm().args(argv).assert().code(2);
        assert!(stderr(&out).contains("error"), "{argv:?}: {}", stderr(&out));
    }
    // A passphrase is never an argument.
    pgbm()
        .args(["backup", "db", "--repo", "/tmp/x", "--passphrase", "s3cret"])
        .assert()
        .code(2);
}

#[test]
fn restore_of_an_archive_file_and_of_a_plain_script() {
    let db = sample_db("cli_file");
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_arg(dir.path());
    pgbm()
        .args(["backup", &db.conninfo(), "--repo", &repo])
        .assert()
        .success();
    let target = PgCluster::shared().fresh_db("cli_file_copy");
    pgbm()
        .arg("restore")
        .arg(archive(dir.path()))
        .args(["-d", &target.conninfo(), "-j", "2"])
        .assert()
        .success();
    assert_eq!(count(&target, "app.orders"), Some(3000));
    // --jobs with a plain script is a usage error: it cannot be honoured.
    let script = dir.path().join("x.sql");
    std::fs::write(&script, "SELECT 1;\n").unwrap();
    pgbm()
        .arg("restore")
        .arg(&script)
        .args(["-d", &target.conninfo(), "-j", "2"])
        .assert()
        .code(2);
}

#[test]
fn interrupted_backup_leaves_nothing() {
    let db = PgCluster::shared().fresh_db("cli_bk_term");
    let payload: Vec<String> = (0..20).map(|i| format!("md5(g::text || '{i}')")).collect();
    db.execute_sql_blocking(&format!(
        "CREATE TABLE big AS SELECT g AS id, {} AS payload FROM generate_series(1, 100000) g",
        payload.join(" || ")
    ));
    let dir = tempfile::tempdir().unwrap();
    let child = pgbm_process()
        .args(["backup", &db.conninfo(), "--repo", &repo_arg(dir.path())])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pgbm");
    // The archive is being written once its temporary file exists (past 8 MiB).
    let deadline = Instant::now() + Duration::from_secs(60);
    let writing = |d: &Path| {
        std::fs::read_dir(d.join("backups"))
            .map(|rd| rd.count() > 0)
            .unwrap_or(false)
    };
    while !writing(dir.path()) {
        assert!(Instant::now() < deadline, "the archive never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    let kill = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .expect("run sh -c kill");
    assert!(kill.success());
    let out = child.wait_with_output().expect("wait for pgbm");
    assert_eq!(
        out.status.code(),
        Some(130),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "no id is printed for a backup that failed"
    );
    assert_eq!(repo_files(dir.path()), Vec::<String>::new());
}

/// `pgbm` configured for the shared moto server the way a user configures S3: the
/// standard AWS variables.
fn pgbm_s3() -> assert_cmd::Command {
    let moto = MotoServer::shared();
    let mut cmd = pgbm();
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(&name);
        }
    }
    cmd.env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "pgbm-testing")
        .env("AWS_SECRET_ACCESS_KEY", "pgbm-testing-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    cmd
}

#[test]
fn s3_repositories_from_the_aws_environment() {
    let db = sample_db("cli_s3");
    let moto = MotoServer::shared();
    let bucket = moto.create_bucket("cli");
    let repo = format!("s3://{bucket}/nightly");
    let out = pgbm_s3()
        .env("PGBM_REPO", &repo)
        .env("PGBM_PASSPHRASE", "s3 secret")
        .args([
            "backup",
            &db.conninfo(),
            "-j",
            "2",
            "--kdf-iterations",
            TEST_ITERATIONS,
        ])
        .assert()
        .success();
    let id = stdout(&out).trim().to_string();
    let mut keys = moto.object_keys(&bucket);
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("nightly/backups/{id}.json"),
            format!("nightly/backups/{id}.pgbm")
        ]
    );
    let list = json(
        &pgbm_s3()
            .args(["list", "--repo", &repo, "--json"])
            .assert()
            .success(),
    );
    assert_eq!(list[0]["id"], id.as_str());
    pgbm_s3()
        .env("PGBM_PASSPHRASE", "s3 secret")
        .args(["verify", "latest", "--repo", &repo])
        .assert()
        .success();
    let target = PgCluster::shared().fresh_db("cli_s3_copy");
    pgbm_s3()
        .env("PGBM_PASSPHRASE", "s3 secret")
        .args([
            "restore",
            &id,
            "--repo",
            &repo,
            "-j",
            "2",
            "-d",
            &target.conninfo(),
        ])
        .assert()
        .success();
    assert_eq!(count(&target, "app.orders"), Some(3000));
    pgbm_s3()
        .args(["cat", "20200101", "--repo", &repo])
        .assert()
        .code(12);
}
