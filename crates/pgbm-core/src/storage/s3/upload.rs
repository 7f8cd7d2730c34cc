//! Streaming multipart uploads to S3.
//!
//! Data handed to [`S3Upload::put_part`] collects in a buffer until it holds the next
//! part (sizes from [`PartSizes`]); each full part is uploaded by its own tokio task,
//! at most `max_concurrency` at a time, each retried as [`Backoff`] says. When all slots
//! are busy, `put_part` waits for one: that back-pressure bounds memory to the part
//! being filled plus `max_concurrency` parts in flight.
//!
//! Any failure aborts the upload (`AbortMultipartUpload`) before the error is returned;
//! dropping the upload unfinished cancels its part tasks and aborts it in a background
//! task. An object that turns out to fit in one part is stored with a plain
//! `PutObject` instead (and the multipart upload aborted), which also covers empty
//! objects, which some S3-compatible servers refuse as multipart.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use tokio::task::JoinSet;

use super::error::{classify, STORE};
use super::parts::{PartSizes, MAX_PARTS};
use crate::storage::error::{Result, StorageError};
use crate::storage::{Backoff, MultipartUpload, PutResult};

/// One multipart upload's identity, shared with its part tasks.
pub(super) struct Target {
    pub(super) client: aws_sdk_s3::Client,
    pub(super) bucket: String,
    pub(super) key: String,
    pub(super) upload_id: String,
    pub(super) backoff: Backoff,
}

impl Target {
    /// Uploads part `number`, retrying transient failures.
    async fn upload_part(&self, number: u32, data: Bytes) -> Result<CompletedPart> {
        let part_number = i32::try_from(number).expect("part numbers are at most 10,000");
        let length = i64::try_from(data.len()).expect("parts are at most 5 GiB");
        let output = self
            .backoff
            .run("upload part of", &self.key, || async {
                self.client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .upload_id(&self.upload_id)
                    .part_number(part_number)
                    .content_length(length)
                    .body(ByteStream::from(data.clone()))
                    .send()
                    .await
                    .map_err(|e| classify(&e, "UploadPart", &self.bucket, &self.key))
            })
            .await?;
        Ok(CompletedPart::builder()
            .part_number(part_number)
            .set_e_tag(output.e_tag().map(str::to_string))
            .build())
    }

    /// Makes the object from `parts` (sorted by number).
    async fn complete(&self, parts: Vec<CompletedPart>) -> Result<PutResult> {
        let upload = CompletedMultipartUpload::builder()
            .set_parts(Some(parts))
            .build();
        let output = self
            .backoff
            .run("complete upload of", &self.key, || async {
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .upload_id(&self.upload_id)
                    .multipart_upload(upload.clone())
                    .send()
                    .await
                    .map_err(|e| classify(&e, "CompleteMultipartUpload", &self.bucket, &self.key))
            })
            .await?;
        Ok(PutResult::with_e_tag(output.e_tag().map(str::to_string)))
    }

    /// Stores a small object with one `PutObject`.
    async fn put_whole(&self, data: Bytes) -> Result<PutResult> {
        let length = i64::try_from(data.len()).expect("one part is at most 5 GiB");
        let output = self
            .backoff
            .run("put", &self.key, || async {
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .content_length(length)
                    .body(ByteStream::from(data.clone()))
                    .send()
                    .await
                    .map_err(|e| classify(&e, "PutObject", &self.bucket, &self.key))
            })
            .await?;
        Ok(PutResult::with_e_tag(output.e_tag().map(str::to_string)))
    }

    /// Discards the upload and its parts.
    pub(super) async fn abort(&self) -> Result<()> {
        self.backoff
            .run("abort upload of", &self.key, || async {
                match self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .upload_id(&self.upload_id)
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let err = classify(&e, "AbortMultipartUpload", &self.bucket, &self.key);
                        // NoSuchUpload: already gone, which is what we wanted.
                        if e.as_service_error().is_some_and(|s| {
                            aws_sdk_s3::error::ProvideErrorMetadata::code(s) == Some("NoSuchUpload")
                        }) {
                            Ok(())
                        } else {
                            Err(err)
                        }
                    }
                }
            })
            .await
    }
}

/// A multipart upload in progress. See the module documentation.
pub(super) struct S3Upload {
    target: Arc<Target>,
    sizes: PartSizes,
    max_concurrency: usize,
    /// Data not yet given to a part.
    pending: BytesMut,
    /// Number of the next part to start (1-based).
    next_part: u32,
    in_flight: JoinSet<Result<CompletedPart>>,
    done: Vec<CompletedPart>,
    /// Completed or aborted: nothing more to do, nothing to clean up.
    finished: bool,
}

impl S3Upload {
    pub(super) fn new(target: Target, sizes: PartSizes, max_concurrency: usize) -> Self {
        S3Upload {
            target: Arc::new(target),
            sizes,
            max_concurrency: max_concurrency.max(1),
            pending: BytesMut::new(),
            next_part: 1,
            in_flight: JoinSet::new(),
            done: Vec::new(),
            finished: false,
        }
    }

    /// Starts uploading `data` as the next part, after waiting for a free slot.
    async fn launch(&mut self, data: Bytes) -> Result<()> {
        if self.next_part > MAX_PARTS {
            return Err(StorageError::generic(
                STORE,
                format!(
                    "{}: more than {MAX_PARTS} parts; the object exceeds S3's 5 TiB limit",
                    self.target.key
                ),
            ));
        }
        while self.in_flight.len() >= self.max_concurrency {
            self.join_one().await?;
        }
        let number = self.next_part;
        self.next_part += 1;
        let target = self.target.clone();
        self.in_flight
            .spawn(async move { target.upload_part(number, data).await });
        Ok(())
    }

    /// Waits for one part task and records its outcome.
    async fn join_one(&mut self) -> Result<()> {
        match self.in_flight.join_next().await {
            None => Ok(()),
            Some(Ok(Ok(part))) => {
                self.done.push(part);
                Ok(())
            }
            Some(Ok(Err(e))) => Err(e),
            Some(Err(join)) => Err(StorageError::generic(
                STORE,
                format!("upload task of {} failed: {join}", self.target.key),
            )),
        }
    }

    /// Starts every full part in `pending`.
    async fn launch_full_parts(&mut self) -> Result<()> {
        loop {
            let size = usize::try_from(self.sizes.size(self.next_part)).unwrap_or(usize::MAX);
            if self.pending.len() < size {
                return Ok(());
            }
            let part = self.pending.split_to(size).freeze();
            self.launch(part).await?;
        }
    }

    /// Sends what is left and completes, or puts the object whole if it is small.
    async fn finish(&mut self) -> Result<PutResult> {
        if self.next_part == 1 {
            // Never reached one full part: one PutObject is simpler and always valid.
            let result = self.target.put_whole(self.pending.split().freeze()).await?;
            self.abort_quietly().await;
            return Ok(result);
        }
        if !self.pending.is_empty() {
            let last = self.pending.split().freeze();
            self.launch(last).await?;
        }
        while !self.in_flight.is_empty() {
            self.join_one().await?;
        }
        let mut parts = std::mem::take(&mut self.done);
        parts.sort_by_key(|p| p.part_number());
        let result = self.target.complete(parts).await?;
        self.finished = true;
        Ok(result)
    }

    /// Aborts after a failure; the failure, not the abort's, is what the caller sees.
    async fn fail(&mut self, err: StorageError) -> StorageError {
        self.abort_quietly().await;
        err
    }

    /// Aborts, logging (not returning) a failure to do so.
    async fn abort_quietly(&mut self) {
        if let Err(e) = self.abort_now().await {
            tracing::warn!(
                "could not abort the upload of {} (id {}): {e}",
                self.target.key,
                self.target.upload_id
            );
        }
    }

    /// Cancels part tasks, then aborts the upload.
    async fn abort_now(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        self.pending = BytesMut::new();
        // Parts still arriving after the abort would not revive the upload, but waiting
        // for the cancelled tasks keeps the order simple to reason about.
        self.in_flight.shutdown().await;
        self.target.abort().await
    }

    fn check_open(&self) -> Result<()> {
        if self.finished {
            return Err(StorageError::generic(
                STORE,
                format!("the upload of {} is already finished", self.target.key),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl MultipartUpload for S3Upload {
    async fn put_part(&mut self, data: Bytes) -> Result<()> {
        self.check_open()?;
        self.pending.extend_from_slice(&data);
        match self.launch_full_parts().await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e).await),
        }
    }

    async fn complete(&mut self) -> Result<PutResult> {
        self.check_open()?;
        match self.finish().await {
            Ok(result) => Ok(result),
            Err(e) => Err(self.fail(e).await),
        }
    }

    async fn abort(&mut self) -> Result<()> {
        self.abort_now().await
    }
}

impl Drop for S3Upload {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Dropping the JoinSet cancels the part tasks; the abort needs a runtime.
        let target = self.target.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(async move {
                if let Err(e) = target.abort().await {
                    tracing::warn!(
                        "could not abort the dropped upload of {} (id {}): {e}",
                        target.key,
                        target.upload_id
                    );
                }
            })),
            Err(_) => tracing::warn!(
                "upload of {} (id {}) dropped outside a tokio runtime; it is left for a \
                 lifecycle rule to remove",
                target.key,
                target.upload_id
            ),
        }
    }
}

impl fmt::Debug for S3Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Upload")
            .field("bucket", &self.target.bucket)
            .field("key", &self.target.key)
            .field("upload_id", &self.target.upload_id)
            .field("next_part", &self.next_part)
            .field("in_flight", &self.in_flight.len())
            .field("pending", &self.pending.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}
