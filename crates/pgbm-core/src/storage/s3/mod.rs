//! [`S3Storage`]: a bucket of S3 or of any S3-compatible service, via `aws-sdk-s3`.
//!
//! Configuration follows the AWS conventions, so that what works for the `aws` CLI
//! works here: credentials from the standard chain (environment, profile files,
//! `credential_process`, web identity, ECS/EC2 metadata) unless given explicitly,
//! region from the chain else `us-east-1`, endpoint from [`S3Options::endpoint`] else
//! `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`. With a custom endpoint, requests use
//! path-style addressing (`endpoint/bucket/key`), which S3-compatible servers expect.
//!
//! * HTTPS uses rustls with the *ring* provider (as the rest of pgbm) and the system's
//!   root certificates.
//! * The SDK's own retries are off; [`Backoff`] retries each request, and each part of
//!   a multipart upload separately (see `upload`), so attempts never multiply.
//! * Checksums are computed only where S3 requires them: many S3-compatible servers
//!   reject the SDK's newer default of streaming CRC trailers, and pgbm archives carry
//!   their own SHA-256 digests.
//! * Conditional create sends `If-None-Match: *`. A server that ignores the header
//!   (some older S3-compatible ones) overwrites instead; AWS S3 and moto honour it.
//! * Multipart uploads grow their part size ([`PartSizes`]) so that a stream of
//!   unknown length can reach S3's 5 TiB object limit.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_smithy_http_client::tls;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::error::{Result, StorageError};
use super::path::{validate_key, validate_prefix};
use super::{
    Backoff, Capabilities, GetOptions, GetRange, GetResult, MultipartUpload, ObjectMeta, PutMode,
    PutOptions, PutResult, Storage,
};

mod error;
mod parts;
mod upload;

use error::{classify, STORE};
pub use parts::{PartSizes, MAX_OBJECT_SIZE, MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE};
use upload::{S3Upload, Target};

/// Region used when neither the options nor the AWS chain name one.
const DEFAULT_REGION: &str = "us-east-1";
/// Requests worth running at once against one bucket.
const MAX_CONCURRENT_REQUESTS: usize = 16;

/// Explicit S3 credentials (instead of the standard AWS chain). `Debug` redacts the
/// secret and the session token.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3Credentials {
    /// The access key id (not secret; shown in `Debug`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// A session token for temporary credentials.
    pub session_token: Option<String>,
}

impl S3Credentials {
    /// Long-term credentials: an access key id and its secret.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        S3Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"**redacted**")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "**redacted**"),
            )
            .finish()
    }
}

/// How to reach and use a bucket. `Default` follows the AWS environment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3Options {
    /// Endpoint URL (`http://127.0.0.1:9000`); `None` uses `AWS_ENDPOINT_URL_S3`,
    /// `AWS_ENDPOINT_URL` or AWS itself.
    pub endpoint: Option<String>,
    /// Region; `None` uses the AWS chain, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style addressing; `None` means "yes with a custom endpoint, no for AWS".
    pub path_style: Option<bool>,
    /// Credentials; `None` uses the standard AWS chain.
    pub credentials: Option<S3Credentials>,
    /// Size of the first parts of a multipart upload (at least 5 MiB); later parts grow.
    pub part_size: u64,
    /// Parts of one upload in flight at once; memory is about this many parts.
    pub max_concurrency: usize,
    /// Retries of each request and each part.
    pub backoff: Backoff,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            endpoint: None,
            region: None,
            path_style: None,
            credentials: None,
            part_size: 8 * 1024 * 1024,
            max_concurrency: 4,
            backoff: Backoff::default(),
        }
    }
}

impl S3Options {
    /// Sets [`S3Options::endpoint`].
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets [`S3Options::region`].
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets [`S3Options::path_style`].
    #[must_use]
    pub fn with_path_style(mut self, path_style: bool) -> Self {
        self.path_style = Some(path_style);
        self
    }

    /// Sets [`S3Options::credentials`].
    #[must_use]
    pub fn with_credentials(mut self, credentials: S3Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Sets [`S3Options::part_size`].
    #[must_use]
    pub fn with_part_size(mut self, part_size: u64) -> Self {
        self.part_size = part_size;
        self
    }

    /// Sets [`S3Options::max_concurrency`].
    #[must_use]
    pub fn with_max_concurrency(mut self, max_concurrency: usize) -> Self {
        self.max_concurrency = max_concurrency;
        self
    }

    /// Sets [`S3Options::backoff`].
    #[must_use]
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }
}

/// One bucket. Cheap to clone (the client is shared).
#[derive(Clone)]
pub struct S3Storage {
    client: aws_sdk_s3::Client,
    bucket: String,
    sizes: PartSizes,
    max_concurrency: usize,
    backoff: Backoff,
}

impl S3Storage {
    /// Connects to `bucket` as `options` say (no request is made yet).
    ///
    /// # Errors
    /// [`StorageError::Generic`] for a part size below S3's 5 MiB minimum.
    pub async fn new(bucket: impl Into<String>, options: S3Options) -> Result<Self> {
        let client = build_client(&options).await;
        S3Storage::from_client(client, bucket, &options)
    }

    /// Uses a client configured elsewhere; only the upload and retry settings of
    /// `options` apply. Configure the client without SDK retries (pgbm retries).
    ///
    /// # Errors
    /// As [`S3Storage::new`].
    pub fn from_client(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        options: &S3Options,
    ) -> Result<Self> {
        if options.part_size < MIN_PART_SIZE {
            return Err(StorageError::generic(
                STORE,
                format!(
                    "part size {} is below S3's minimum of {MIN_PART_SIZE} bytes",
                    options.part_size
                ),
            ));
        }
        Ok(S3Storage {
            client,
            bucket: bucket.into(),
            sizes: PartSizes::new(options.part_size),
            max_concurrency: options.max_concurrency.max(1),
            backoff: options.backoff,
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The SDK client, for what the trait does not cover.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// The part-size schedule of multipart uploads.
    pub fn part_sizes(&self) -> PartSizes {
        self.sizes
    }

    async fn retry<T, F, Fut>(&self, what: &str, key: &str, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.backoff.run(what, key, op).await
    }
}

/// The SDK client: rustls + ring HTTPS, AWS chains for what `options` leave open.
async fn build_client(options: &S3Options) -> aws_sdk_s3::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    // Without an explicit region the loader runs the AWS region chain itself, with the
    // HTTP client above (a chain built separately would have none).
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(c) = &options.credentials {
        loader = loader.credentials_provider(Credentials::new(
            &c.access_key_id,
            &c.secret_access_key,
            c.session_token.clone(),
            None,
            "pgbm",
        ));
    }
    if let Some(endpoint) = &options.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let sdk = loader.load().await;
    let path_style = options
        .path_style
        .unwrap_or_else(|| sdk.endpoint_url().is_some());
    let mut config = aws_sdk_s3::config::Builder::from(&sdk);
    if sdk.region().is_none() {
        config = config.region(Region::from_static(DEFAULT_REGION));
    }
    let config = config
        .force_path_style(path_style)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

impl fmt::Display for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}", self.bucket)
    }
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field("bucket", &self.bucket)
            .field("part_sizes", &self.sizes)
            .field("max_concurrency", &self.max_concurrency)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Storage for S3Storage {
    async fn put_opts(&self, path: &str, payload: Bytes, opts: PutOptions) -> Result<PutResult> {
        validate_key(path)?;
        let length = i64::try_from(payload.len()).unwrap_or(i64::MAX);
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(path)
            .content_length(length)
            .body(ByteStream::from(payload));
        if opts.mode == PutMode::Create {
            request = request.if_none_match("*");
        }
        match request.send().await {
            Ok(output) => Ok(PutResult::with_e_tag(output.e_tag().map(str::to_string))),
            Err(e) => match classify(&e, "PutObject", &self.bucket, path) {
                StorageError::Precondition { path, .. } if opts.mode == PutMode::Create => {
                    Err(StorageError::AlreadyExists { path })
                }
                other => Err(other),
            },
        }
    }

    async fn put_multipart(&self, path: &str) -> Result<Box<dyn MultipartUpload>> {
        validate_key(path)?;
        let output = self
            .retry("start upload of", path, || async {
                self.client
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(path)
                    .send()
                    .await
                    .map_err(|e| classify(&e, "CreateMultipartUpload", &self.bucket, path))
            })
            .await?;
        let upload_id = output.upload_id().ok_or_else(|| {
            StorageError::generic(STORE, format!("CreateMultipartUpload {path}: no upload id"))
        })?;
        let target = Target {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: path.to_string(),
            upload_id: upload_id.to_string(),
            backoff: self.backoff,
        };
        Ok(Box::new(S3Upload::new(
            target,
            self.sizes,
            self.max_concurrency,
        )))
    }

    async fn get_opts(&self, path: &str, opts: GetOptions) -> Result<GetResult> {
        validate_key(path)?;
        let mut request = self.client.get_object().bucket(&self.bucket).key(path);
        if let Some(range) = &opts.range {
            range.check(path)?;
            request = request.range(http_range(range));
        }
        let output = request
            .send()
            .await
            .map_err(|e| classify(&e, "GetObject", &self.bucket, path))?;
        let length = u64::try_from(output.content_length().unwrap_or(0)).unwrap_or(0);
        let (range, size) = match (&opts.range, output.content_range()) {
            (None, _) => (0..length, length),
            (Some(_), Some(content_range)) => {
                parse_content_range(content_range).ok_or_else(|| {
                    StorageError::generic(
                        STORE,
                        format!("GetObject {path}: bad Content-Range {content_range:?}"),
                    )
                })?
            }
            (Some(_), None) => {
                return Err(StorageError::generic(
                    STORE,
                    format!("GetObject {path}: the server ignored the Range header"),
                ))
            }
        };
        let mut meta = ObjectMeta::new(path, size, system_time(output.last_modified()));
        meta.e_tag = output.e_tag().map(str::to_string);
        let stream = body_stream(output.body, path.to_string());
        Ok(GetResult::new(meta, range, stream))
    }

    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        validate_key(path)?;
        let output = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(path)
            .send()
            .await
            .map_err(|e| classify(&e, "HeadObject", &self.bucket, path))?;
        let size = u64::try_from(output.content_length().unwrap_or(0)).unwrap_or(0);
        let mut meta = ObjectMeta::new(path, size, system_time(output.last_modified()));
        meta.e_tag = output.e_tag().map(str::to_string);
        Ok(meta)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        validate_prefix(prefix)?;
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| classify(&e, "ListObjectsV2", &self.bucket, prefix))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let size = u64::try_from(object.size().unwrap_or(0)).unwrap_or(0);
                let mut meta = ObjectMeta::new(key, size, system_time(object.last_modified()));
                meta.e_tag = object.e_tag().map(str::to_string);
                objects.push(meta);
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => break,
            }
        }
        objects.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(objects)
    }

    async fn delete(&self, path: &str) -> Result<()> {
        validate_key(path)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(path)
            .send()
            .await
            .map_err(|e| classify(&e, "DeleteObject", &self.bucket, path))?;
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::full(MAX_CONCURRENT_REQUESTS)
    }
}

/// The `Range` header for `range` (HTTP ends are inclusive).
fn http_range(range: &GetRange) -> String {
    match range {
        GetRange::Bounded(r) => format!("bytes={}-{}", r.start, r.end.saturating_sub(1)),
        GetRange::Offset(start) => format!("bytes={start}-"),
        GetRange::Suffix(n) => format!("bytes=-{n}"),
    }
}

/// `bytes START-END/SIZE` as the delivered range (end exclusive) and the object size.
fn parse_content_range(value: &str) -> Option<(std::ops::Range<u64>, u64)> {
    let rest = value.strip_prefix("bytes ")?;
    let (span, size) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let (start, end, size) = (
        start.parse::<u64>().ok()?,
        end.parse::<u64>().ok()?,
        size.parse().ok()?,
    );
    (start <= end).then_some((start..end + 1, size))
}

/// An S3 timestamp as `SystemTime` (the epoch when missing or out of range).
fn system_time(time: Option<&DateTime>) -> SystemTime {
    time.and_then(|t| SystemTime::try_from(*t).ok())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The response body as a stream of chunks; a broken connection ends it with a
/// transient error (the caller re-reads the range).
fn body_stream(body: ByteStream, key: String) -> BoxStream<'static, Result<Bytes>> {
    futures_util::stream::try_unfold((body, key), |(mut body, key)| async move {
        match body.try_next().await {
            Ok(Some(chunk)) => Ok(Some((chunk, (body, key)))),
            Ok(None) => Ok(None),
            Err(e) => Err(StorageError::transient(
                STORE,
                format!("reading {key}: {}", error::chain(&e)),
            )),
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_http_headers() {
        assert_eq!(http_range(&GetRange::Bounded(0..10)), "bytes=0-9");
        assert_eq!(http_range(&GetRange::Offset(5)), "bytes=5-");
        assert_eq!(http_range(&GetRange::Suffix(7)), "bytes=-7");
    }

    #[test]
    fn content_ranges_parse() {
        assert_eq!(parse_content_range("bytes 0-9/100"), Some((0..10, 100)));
        assert_eq!(parse_content_range("bytes 93-99/100"), Some((93..100, 100)));
        assert_eq!(parse_content_range("bytes */100"), None);
        assert_eq!(parse_content_range("bytes 9-0/100"), None);
    }

    #[test]
    fn credentials_are_redacted_in_debug() {
        let mut c = S3Credentials::new("AKIAEXAMPLE", "very-secret");
        c.session_token = Some("token-secret".into());
        let shown = format!("{:?}", S3Options::default().with_credentials(c));
        assert!(shown.contains("AKIAEXAMPLE"), "{shown}");
        assert!(!shown.contains("very-secret") && !shown.contains("token-secret"));
    }

    #[tokio::test]
    async fn part_sizes_below_the_s3_minimum_are_refused() {
        let options = S3Options::default()
            .with_region("us-east-1")
            .with_credentials(S3Credentials::new("a", "b"))
            .with_part_size(1024);
        let err = S3Storage::new("bucket", options).await.unwrap_err();
        assert!(err.to_string().contains("minimum"), "{err}");
    }
}
