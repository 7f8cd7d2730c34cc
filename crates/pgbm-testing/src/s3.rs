//! A local S3: [`MotoServer`] runs `moto_server` on loopback for storage tests, and
//! [`FaultyProxy`] sits in front of it to cut chosen requests.
//!
//! ```no_run
//! use pgbm_testing::s3::MotoServer;
//!
//! #[tokio::test]
//! async fn stores_objects() {
//!     let moto = MotoServer::shared();
//!     let bucket = moto.create_bucket("stores_objects");
//!     let store = moto.storage(&bucket).await;
//!     // ... use `store` (a pgbm_core::storage::S3Storage)
//!     assert!(moto.multipart_uploads(&bucket).is_empty());
//! }
//! ```
//!
//! moto keeps everything in memory, accepts any credentials and is faithful where
//! pgbm needs it: multipart uploads (and listing them), `If-None-Match: *`, ranged GET.
//! It comes from PyPI: `pip install 'moto[server]>=5.2.5'` (older versions answer
//! CompleteMultipartUpload in a shape aws-sdk-s3 rejects). A machine without it fails the
//! tests with that hint; they never skip.
//!
//! The server runs in its own process group. A watchdog (`sh` polling the test process,
//! as for clusters) kills the group and deletes the server's temp directory when the
//! test process is gone, however it ends; a private server ([`MotoServer::start`]) is
//! also killed when dropped.
//!
//! Checks made *behind pgbm's back* ([`MotoServer::multipart_uploads`],
//! [`MotoServer::object_keys`]) use plain HTTP/1.0 requests, so they cannot share a bug
//! with the code under test.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use pgbm_core::storage::{Backoff, S3Credentials, S3Options, S3Storage};

use crate::names::unique_name;
use crate::port::free_port;

/// The program started; must be on `PATH`.
const MOTO_PROGRAM: &str = "moto_server";
/// What to run to get it.
const INSTALL_HINT: &str = "pip install 'moto[server]>=5.2.5'";
/// How long moto may take to answer its first request (about 0.5 s when idle).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a start is tried on a fresh port when the port was taken meanwhile.
const START_ATTEMPTS: usize = 5;
/// Region and credentials the tests use; moto accepts anything.
const REGION: &str = "us-east-1";
const ACCESS_KEY: &str = "pgbm-testing";
const SECRET_KEY: &str = "pgbm-testing-secret";

/// A running `moto_server` on `127.0.0.1`.
#[derive(Debug)]
pub struct MotoServer {
    port: u16,
    /// The server (leader of its own process group); `None` once killed.
    server: Option<Child>,
    watchdog: Option<Child>,
    /// Holds `moto.log`; `None` only while handing it to the next start attempt.
    dir: Option<tempfile::TempDir>,
}

impl MotoServer {
    /// The server shared by all tests of this test binary, started on first use.
    ///
    /// Tests sharing it keep to their own buckets ([`MotoServer::create_bucket`]).
    ///
    /// # Panics
    /// When the server cannot start (every test that asks for it fails, with the reason).
    pub fn shared() -> &'static MotoServer {
        static SHARED: OnceLock<Result<MotoServer, String>> = OnceLock::new();
        let started = SHARED.get_or_init(|| {
            std::panic::catch_unwind(MotoServer::start).map_err(|p| panic_message(p.as_ref()))
        });
        match started {
            Ok(server) => server,
            Err(msg) => panic!("the shared moto server did not start: {msg}"),
        }
    }

    /// Starts a private server, killed when dropped.
    ///
    /// # Panics
    /// When `moto_server` is missing (saying `pip install 'moto[server]'`) or does not
    /// answer within a minute (with its log).
    #[must_use]
    pub fn start() -> MotoServer {
        let mut dir = tempfile::Builder::new()
            .prefix("pgbm-moto-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temp dir for moto: {e}"));
        let log = dir.path().join("moto.log");
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            // From here on, dropping `server` kills whatever was started.
            let mut server = MotoServer {
                port,
                server: Some(spawn_moto(port, &log)),
                watchdog: None,
                dir: Some(dir),
            };
            let pid = server.server.as_ref().map_or(0, Child::id);
            let dir_path = server.dir.as_ref().map(|d| d.path().to_path_buf());
            let dir_path = dir_path.expect("a server always has its dir");
            server.watchdog = Some(spawn_watchdog(std::process::id(), pid, &dir_path));
            match server.wait_ready() {
                Ok(()) => return server,
                Err(output) if output.contains("Address already in use") => {
                    server.kill();
                    last_log = output;
                    dir = server.into_dir();
                }
                Err(output) => panic!(
                    "moto_server did not start ({INSTALL_HINT} installs it); its output:\n{output}"
                ),
            }
        }
        panic!("moto_server found no free port in {START_ATTEMPTS} tries:\n{last_log}");
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Options that reach this server: its endpoint, path-style, fixed credentials and
    /// region, S3's smallest part size (5 MiB, so multipart tests stay small) and short
    /// retry delays.
    pub fn s3_options(&self) -> S3Options {
        S3Options::default()
            .with_endpoint(self.endpoint())
            .with_region(REGION)
            .with_path_style(true)
            .with_credentials(S3Credentials::new(ACCESS_KEY, SECRET_KEY))
            .with_part_size(pgbm_core::storage::MIN_PART_SIZE)
            .with_backoff(Backoff::new(
                4,
                Duration::from_millis(20),
                Duration::from_millis(200),
            ))
    }

    /// A pgbm store for `bucket` with [`MotoServer::s3_options`].
    ///
    /// # Panics
    /// When the options are refused (they are not).
    pub async fn storage(&self, bucket: &str) -> S3Storage {
        S3Storage::new(bucket, self.s3_options())
            .await
            .unwrap_or_else(|e| panic!("cannot configure S3 storage for moto: {e}"))
    }

    /// Creates a bucket named after `hint` (made unique and S3-valid) and returns its name.
    ///
    /// # Panics
    /// When moto refuses.
    pub fn create_bucket(&self, hint: &str) -> String {
        let name = unique_name(&format!("pgbm_{hint}"))
            .replace('_', "-")
            .chars()
            .take(63)
            .collect::<String>()
            .trim_end_matches('-')
            .to_string();
        let (status, body) = self.request("PUT", &format!("/{name}"));
        assert_eq!(status, 200, "creating bucket {name} failed: {body}");
        name
    }

    /// Keys of the multipart uploads open in `bucket` (ListMultipartUploads).
    ///
    /// # Panics
    /// When the request fails.
    pub fn multipart_uploads(&self, bucket: &str) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{bucket}?uploads"));
        assert_eq!(status, 200, "listing uploads of {bucket} failed: {body}");
        xml_values(&body, "Key")
    }

    /// Keys of the objects in `bucket` (first 1000; ListObjectsV2).
    ///
    /// # Panics
    /// When the request fails.
    pub fn object_keys(&self, bucket: &str) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{bucket}?list-type=2"));
        assert_eq!(status, 200, "listing objects of {bucket} failed: {body}");
        xml_values(&body, "Key")
    }

    /// Kills the server now (to test what pgbm does when the endpoint dies).
    pub fn kill(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        if let Some(mut server) = self.server.take() {
            kill_group(server.id());
            let _ = server.wait();
        }
    }

    /// One HTTP/1.0 request without a body; returns status and body.
    fn request(&self, method: &str, target: &str) -> (u16, String) {
        http_request(self.port, method, target)
            .unwrap_or_else(|e| panic!("{method} {target} to moto failed: {e}"))
    }

    /// Waits until moto answers HTTP; on failure returns its output.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if http_request(self.port, "GET", "/moto-api/").is_ok() {
                return Ok(());
            }
            let server = self.server.as_mut().expect("not killed while starting");
            if let Ok(Some(status)) = server.try_wait() {
                let log = self.log();
                return Err(format!("(exited with {status})\n{log}"));
            }
            if Instant::now() > deadline {
                let log = self.log();
                return Err(format!("(no answer in {READY_TIMEOUT:?})\n{log}"));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        self.dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.path().join("moto.log")).ok())
            .unwrap_or_default()
    }

    /// The temp dir, for the next attempt (the server is already killed).
    fn into_dir(mut self) -> tempfile::TempDir {
        self.dir.take().expect("a server always has its dir")
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `moto_server` on `port` in its own process group, output to `log`.
fn spawn_moto(port: u16, log: &Path) -> Child {
    let out = std::fs::File::create(log)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
    let err = out.try_clone().expect("clone log handle");
    Command::new(MOTO_PROGRAM)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `{MOTO_PROGRAM}` ({e}); install it with: {INSTALL_HINT}")
        })
}

/// The watchdog loop; arguments: poll interval, pid to watch, process group to kill,
/// directory to delete.
const WATCHDOG_SCRIPT: &str = r#"
interval=$1; pid=$2; group=$3; dir=$4
while kill -0 "$pid" 2>/dev/null; do sleep "$interval"; done
kill -KILL "-$group" 2>/dev/null  # dash: no `--`
rm -rf "$dir"
"#;

/// Kills process group `group` and deletes `dir` once process `watched` is gone.
fn spawn_watchdog(watched: u32, group: u32, dir: &Path) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG_SCRIPT)
        .arg("pgbm-moto-watchdog")
        .arg("0.2")
        .arg(watched.to_string())
        .arg(group.to_string())
        .arg(dir)
        .process_group(0)
        // Holding the test's stdout/stderr open would make cargo wait for the watchdog.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the moto watchdog (`sh`): {e}"))
}

/// Kills every process of group `group` (moto and anything it started).
fn kill_group(group: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
}

/// A plain HTTP/1.0 request to 127.0.0.1:`port`: status code and body.
fn http_request(port: u16, method: &str, target: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {target} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {head:?}")))?;
    Ok((status, body.to_string()))
}

/// The texts of every `<tag>...</tag>` in `xml` (enough for S3 listings of plain keys).
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(value, _)| value.to_string()))
        .collect()
}

/// A TCP proxy to a local server that cuts the connection of every request whose
/// request line `fails` picks, and passes everything else through.
///
/// The client sees a dropped connection (a transient failure); the server never sees
/// the request. Used to make one S3 part fail every attempt while the rest of the
/// upload, and its abort, go through.
#[derive(Debug)]
pub struct FaultyProxy {
    port: u16,
    cut: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// Decides from a request line (`PUT /bucket/key?partNumber=3&... HTTP/1.1`) whether to
/// cut the request.
type FailFn = dyn Fn(&str) -> bool + Send + Sync + 'static;

impl FaultyProxy {
    /// Listens on a free loopback port and forwards to 127.0.0.1:`upstream`.
    ///
    /// # Panics
    /// When no port can be bound.
    pub fn start(upstream: u16, fails: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("cannot bind the proxy: {e}"));
        let port = listener.local_addr().expect("bound address").port();
        let cut = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let fails: Arc<FailFn> = Arc::new(fails);
        let (cut2, stop2) = (cut.clone(), stop.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (fails, cut) = (fails.clone(), cut2.clone());
                thread::spawn(move || proxy_connection(client, upstream, &*fails, &cut));
            }
        });
        FaultyProxy { port, cut, stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many requests were cut so far.
    pub fn cut_requests(&self) -> usize {
        self.cut.load(Ordering::SeqCst)
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
    }
}

/// Forwards one client connection request by request (responses stream back raw).
fn proxy_connection(client: TcpStream, upstream: u16, fails: &FailFn, cut: &AtomicUsize) {
    let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)) else {
        return;
    };
    let (Ok(mut server_reader), Ok(mut client_writer)) = (server.try_clone(), client.try_clone())
    else {
        return;
    };
    thread::spawn(move || {
        let _ = std::io::copy(&mut server_reader, &mut client_writer);
        let _ = client_writer.shutdown(Shutdown::Both);
    });
    let mut reader = BufReader::new(client.try_clone().expect("clone client"));
    let mut server = server;
    while let Some(head) = read_head(&mut reader) {
        let request_line = head.lines().next().unwrap_or_default();
        if fails(request_line) {
            cut.fetch_add(1, Ordering::SeqCst);
            break;
        }
        if !forward_request(&head, &mut reader, &mut server) {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}

/// Sends one request (`head` already read, its body still in `reader`) upstream;
/// whether the connection can carry another request.
fn forward_request(head: &str, reader: &mut impl BufRead, server: &mut TcpStream) -> bool {
    let headers = parse_headers(head);
    if server.write_all(head.as_bytes()).is_err() {
        return false;
    }
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        // Not used by pgbm's requests; just pass the rest through uninspected.
        let _ = std::io::copy(reader, server);
        return false;
    }
    let length: u64 = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    std::io::copy(&mut reader.take(length), server).is_ok_and(|n| n == length)
}

/// Reads a request head (up to and including the blank line); `None` at EOF.
fn read_head(reader: &mut impl BufRead) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" || line == "\n" {
            return Some(head);
        }
    }
}

/// Header names (lower case) to values.
fn parse_headers(head: &str) -> HashMap<String, String> {
    head.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect()
}

/// Whether a request line is an UploadPart of part `number`.
pub fn is_upload_part(request_line: &str, number: u32) -> bool {
    let want = format!("partNumber={number}");
    request_line
        .split(['?', '&', ' '])
        .any(|param| param == want)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "(panic without a message)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_values_are_extracted() {
        let xml = "<R><Upload><Key>a/b</Key></Upload><Upload><Key>c</Key></Upload></R>";
        assert_eq!(xml_values(xml, "Key"), ["a/b", "c"]);
        assert!(xml_values("<R/>", "Key").is_empty());
    }

    #[test]
    fn upload_part_lines_are_recognised() {
        let line = "PUT /b/k?x-id=UploadPart&partNumber=3&uploadId=abc HTTP/1.1";
        assert!(is_upload_part(line, 3));
        assert!(!is_upload_part(line, 30));
        assert!(!is_upload_part("PUT /b/k?partNumber=33 HTTP/1.1", 3));
    }

    #[test]
    fn a_private_server_serves_and_dies_when_dropped() {
        let server = MotoServer::start();
        let bucket = server.create_bucket("private");
        assert!(server.object_keys(&bucket).is_empty());
        assert!(server.multipart_uploads(&bucket).is_empty());
        assert!(server.log().contains("127.0.0.1"), "moto logs its requests");
        let port = server.port();
        drop(server);
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
            "moto still listens on {port} after drop"
        );
    }

    #[test]
    fn the_watchdog_kills_the_group_when_the_watched_process_ends() {
        // Stand-ins: a short-lived "test process" and a long-lived "server" group.
        let mut watched = Command::new("sleep").arg("0.3").spawn().unwrap();
        let mut target = Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut watchdog = spawn_watchdog(watched.id(), target.id(), dir.path());
        watched.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = target.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the watchdog did not kill the group"
            );
            thread::sleep(Duration::from_millis(50));
        };
        assert!(!status.success(), "killed, not exited: {status}");
        watchdog.wait().unwrap();
        assert!(
            !dir.path().exists(),
            "the watchdog deletes the server's directory"
        );
    }
}
