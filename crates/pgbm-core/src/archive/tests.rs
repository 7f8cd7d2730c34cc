//! Tests of the archive format: round trips, concurrency, key slots, and every kind of
//! damage the format promises to detect.

use bytes::Bytes;
use futures_util::TryStreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::*;
use crate::crypto::{
    to_hex, KdfParams, KeyFileKey, KeySlotsSpec, KeySource, Passphrase, PassphraseKey,
};
use crate::ErrorKind;

const FRAME: usize = 4096;

/// Deterministic test data: text-like (compressible) with a sprinkle of noise.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|i| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            if i % 7 == 0 {
                (x >> 56) as u8
            } else {
                b"insert into t values (1, 'abc');\n"[i % 33]
            }
        })
        .collect()
}

fn key_file() -> KeyFileKey {
    KeyFileKey::from_bytes([0x42; 32])
}

fn options(compression: Compression, encrypted: bool) -> WriterOptions {
    let mut o = WriterOptions::default()
        .with_compression(compression)
        .with_frame_size(FRAME);
    if encrypted {
        o = o.with_encryption(KeySlotsSpec::new().with_key_file(key_file()));
    }
    o
}

fn keys() -> KeySource {
    KeySource::new().with_key_file(key_file())
}

/// Writes segments one after the other, each in chunks of 1000 bytes.
async fn write(options: WriterOptions, segments: &[(&str, Vec<u8>)]) -> (Bytes, ArchiveSummary) {
    let writer = ArchiveWriter::new(Vec::new(), options).await.unwrap();
    for (name, bytes) in segments {
        let mut seg = writer
            .begin_segment(SegmentMeta::new(*name, "table-data").with_extra(json!({"rows": 3})))
            .unwrap();
        for chunk in bytes.chunks(1000) {
            seg.write(chunk).await.unwrap();
        }
        seg.finish().await.unwrap();
    }
    let (summary, sink) = writer
        .finish_into_inner(json!({"server_version": "16.2", "database": "app"}))
        .await
        .unwrap();
    (Bytes::from(sink), summary)
}

async fn read_segment<R: RangeRead + 'static>(
    reader: &ArchiveReader<R>,
    i: usize,
) -> Result<Vec<u8>, Error> {
    let chunks: Vec<Bytes> = reader.open_segment(i)?.try_collect().await?;
    Ok(chunks.concat())
}

/// Opens and verifies everything; the first error.
async fn check(bytes: Bytes, keys: &KeySource) -> Result<VerifySummary, Error> {
    ArchiveReader::open(bytes, keys).await?.verify_all().await
}

fn sample() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("pre-data", data(500, 1)),
        ("empty", Vec::new()),
        ("exact", data(3 * FRAME, 2)),
        ("public.big", data(5 * FRAME + 123, 3)),
    ]
}

#[tokio::test]
async fn round_trips_with_and_without_compression_and_encryption() {
    for compression in [
        Compression::None,
        Compression::Zstd { level: 3 },
        Compression::Zstd { level: -3 },
    ] {
        for encrypted in [false, true] {
            let input = sample();
            let (bytes, summary) = write(options(compression, encrypted), &input).await;
            assert_eq!(summary.total_size, bytes.len() as u64);
            let reader = ArchiveReader::open(bytes.clone(), &keys()).await.unwrap();
            assert_eq!(reader.info().encrypted, encrypted);
            assert_eq!(reader.info().compression, compression);
            assert_eq!(reader.info().frame_size as usize, FRAME);
            assert_eq!(reader.manifest()["database"], "app");
            assert_eq!(reader.segments(), summary.segments.as_slice());
            for (i, (name, plain)) in input.iter().enumerate() {
                let info = &reader.segments()[i];
                assert_eq!(info.meta.name, *name);
                assert_eq!(info.meta.kind, "table-data");
                assert_eq!(info.meta.extra, json!({"rows": 3}));
                assert_eq!(info.plaintext_size, plain.len() as u64);
                assert_eq!(info.plaintext_sha256, to_hex(&Sha256::digest(plain)));
                assert_eq!(
                    &read_segment(&reader, i).await.unwrap(),
                    plain,
                    "{compression} {name}"
                );
            }
            let frames: Vec<u32> = reader.segments().iter().map(|s| s.frame_count).collect();
            assert_eq!(frames, [1, 1, 3, 6]);
            let verified = reader.verify_all().await.unwrap();
            assert_eq!(verified.segments, 4);
            assert_eq!(verified.frames, 11);
            assert_eq!(verified.plaintext_size, summary.plaintext_size);
            if compression != Compression::None {
                assert!(
                    summary.frames_size < summary.plaintext_size / 2,
                    "{summary:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn encrypted_archives_hide_the_plaintext_and_plain_ones_do_not() {
    let secret = b"very-recognisable-plaintext-0123456789".repeat(4);
    let input = [("s", secret.clone())];
    let needle = &secret[..24];
    let contains = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let (plain, _) = write(options(Compression::None, false), &input).await;
    assert!(contains(&plain));
    let (sealed, _) = write(options(Compression::None, true), &input).await;
    assert!(!contains(&sealed));
    // Names and the manifest live in the encrypted footer.
    assert!(!sealed.windows(8).any(|w| w == b"database"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_segments_interleave_and_round_trip() {
    let writer = std::sync::Arc::new(
        ArchiveWriter::new(Vec::new(), options(Compression::default(), true))
            .await
            .unwrap(),
    );
    let inputs: Vec<Vec<u8>> = (0..4)
        .map(|i| data(20 * FRAME + i * 77, i as u64))
        .collect();
    let mut tasks = Vec::new();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(inputs.len()));
    for (i, input) in inputs.iter().cloned().enumerate() {
        let mut seg = writer
            .begin_segment(SegmentMeta::new(format!("t{i}"), "table-data"))
            .unwrap();
        let barrier = std::sync::Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            // Frame 0 goes out once byte FRAME + 1 arrives; every segment's frame 0 is
            // written before any frame 1, so the frames surely interleave.
            seg.write(&input[..=FRAME]).await.unwrap();
            barrier.wait().await;
            for chunk in input[FRAME + 1..].chunks(FRAME / 2) {
                seg.write(chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
            seg.finish().await.unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let writer = std::sync::Arc::into_inner(writer).unwrap();
    let (_, sink) = writer.finish_into_inner(json!(null)).await.unwrap();
    let reader = ArchiveReader::open(Bytes::from(sink), &keys())
        .await
        .unwrap();
    for (i, input) in inputs.iter().enumerate() {
        assert_eq!(&read_segment(&reader, i).await.unwrap(), input);
    }
    // Interleaved: some frame of segment 1 lies before the last frame of segment 0.
    let first = reader.frame_spans(0);
    let second = reader.frame_spans(1);
    assert!(
        second[0].0 < first.last().unwrap().0,
        "{first:?} {second:?}"
    );
    // Segments can also be read concurrently.
    let a = tokio::spawn(read_owned(reader.clone(), 2));
    let b = tokio::spawn(read_owned(reader.clone(), 3));
    assert_eq!(a.await.unwrap(), inputs[2]);
    assert_eq!(b.await.unwrap(), inputs[3]);
}

async fn read_owned(reader: ArchiveReader<Bytes>, i: usize) -> Vec<u8> {
    read_segment(&reader, i).await.unwrap()
}

#[tokio::test]
async fn either_slot_opens_and_wrong_keys_say_so() {
    let pass = Passphrase::new("team passphrase");
    let pk = PassphraseKey::derive_async(&pass, KdfParams::random_with_iterations(1000).unwrap())
        .await
        .unwrap();
    let spec = KeySlotsSpec::new()
        .with_passphrase_key(pk)
        .with_key_file(key_file());
    let opts = options(Compression::default(), false).with_encryption(spec);
    let (bytes, _) = write(opts, &sample()).await;

    for keys in [KeySource::new().with_passphrase(pass.clone()), keys()] {
        let reader = ArchiveReader::open(bytes.clone(), &keys).await.unwrap();
        assert_eq!(reader.info().key_slots.len(), 2);
        reader.verify_all().await.unwrap();
    }
    let wrong = [
        KeySource::new().with_passphrase(Passphrase::new("team passphrasE")),
        KeySource::new().with_key_file(KeyFileKey::from_bytes([0x43; 32])),
        KeySource::new(),
    ];
    for keys in wrong {
        let err = ArchiveReader::open(bytes.clone(), &keys).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WrongKey, "{err}");
        assert_eq!(err.exit_code(), 10);
    }
    let err = ArchiveReader::open(
        bytes,
        &KeySource::new().with_passphrase(Passphrase::new("x")),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().starts_with("wrong passphrase or key"),
        "{err}"
    );
}

#[tokio::test]
async fn a_shared_salt_derives_once_for_many_archives() {
    let pass = Passphrase::new("p");
    let params = KdfParams::new(vec![9; 16], 200_000).unwrap();
    let pk = PassphraseKey::derive_async(&pass, params).await.unwrap();
    let mut archives = Vec::new();
    for _ in 0..3 {
        let spec = KeySlotsSpec::new().with_passphrase_key(pk.clone());
        let opts = options(Compression::None, false).with_encryption(spec);
        archives.push(write(opts, &sample()).await.0);
    }
    let keys = KeySource::new().with_passphrase(pass);
    ArchiveReader::open(archives[0].clone(), &keys)
        .await
        .unwrap();
    let derived = keys.derived_keys();
    assert_eq!(derived.len(), 1);
    // The key derived for the first archive opens the others without the passphrase.
    let cached = KeySource::new().with_derived(derived[0].clone());
    for a in &archives[1..] {
        ArchiveReader::open(a.clone(), &cached).await.unwrap();
    }
}

/// Where things are in an archive, for tampering.
struct Layout {
    header_len: usize,
    footer_offset: usize,
    /// (offset, len) of every frame of segments 2 and 3 (the multi-frame ones).
    exact: Vec<(usize, usize)>,
    big: Vec<(usize, usize)>,
}

async fn layout(bytes: &Bytes) -> Layout {
    let reader = ArchiveReader::open(bytes.clone(), &keys()).await.unwrap();
    let spans = |i| -> Vec<(usize, usize)> {
        reader
            .frame_spans(i)
            .into_iter()
            .map(|(o, l)| (o as usize, l as usize))
            .collect()
    };
    let t = &bytes[bytes.len() - 40..];
    Layout {
        header_len: u32::from_le_bytes(bytes[40..44].try_into().unwrap()) as usize,
        footer_offset: u64::from_le_bytes(t[..8].try_into().unwrap()) as usize,
        exact: spans(2),
        big: spans(3),
    }
}

async fn expect_corrupt(bytes: Vec<u8>, keys: &KeySource, needle: &str) {
    let err = check(Bytes::from(bytes), keys).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
    assert_eq!(err.exit_code(), 11);
    assert!(
        err.to_string().contains(needle),
        "expected {needle:?} in: {err}"
    );
}

fn flip(bytes: &Bytes, at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 0x01;
    b
}

fn swap(bytes: &Bytes, a: (usize, usize), b: (usize, usize)) -> Vec<u8> {
    assert_eq!(a.1, b.1, "swapped frames must be the same size");
    let mut out = bytes.to_vec();
    out[a.0..a.0 + a.1].copy_from_slice(&bytes[b.0..b.0 + b.1]);
    out[b.0..b.0 + b.1].copy_from_slice(&bytes[a.0..a.0 + a.1]);
    out
}

#[tokio::test]
async fn damage_is_detected_and_named() {
    for encrypted in [true, false] {
        // No compression: full frames have equal stored sizes and can be swapped.
        let (bytes, _) = write(options(Compression::None, encrypted), &sample()).await;
        let l = layout(&bytes).await;
        let keys = keys();
        let frame = if encrypted {
            "failed authentication"
        } else {
            "checksum mismatch"
        };

        expect_corrupt(flip(&bytes, 0), &keys, "not a pgbm archive").await;
        expect_corrupt(flip(&bytes, 20), &keys, "archive header: checksum mismatch").await;
        expect_corrupt(
            flip(&bytes, l.header_len - 1),
            &keys,
            "archive header: checksum",
        )
        .await;
        if encrypted {
            // Inside the key slot (wrapped key bytes).
            expect_corrupt(flip(&bytes, 48 + 30), &keys, "key slots are corrupt").await;
        }
        let f = l.exact[1];
        expect_corrupt(
            flip(&bytes, f.0 + 7),
            &keys,
            &format!("segment 2 (\"exact\") frame 1 of 3 (bytes {}..", f.0),
        )
        .await;
        expect_corrupt(flip(&bytes, f.0 + 7), &keys, frame).await;
        expect_corrupt(flip(&bytes, l.footer_offset + 3), &keys, "archive footer: ").await;
        let size = bytes.len();
        expect_corrupt(
            flip(&bytes, size - 35),
            &keys,
            "archive trailer: checksum mismatch",
        )
        .await;
        expect_corrupt(
            flip(&bytes, size - 1),
            &keys,
            "archive truncated or incomplete",
        )
        .await;

        // Unknown format version.
        let mut v2 = bytes.to_vec();
        v2[8] = 2;
        expect_corrupt(v2, &keys, "unsupported archive format version 2").await;

        // Reordered within a segment, swapped across segments, duplicated.
        expect_corrupt(swap(&bytes, l.exact[0], l.exact[1]), &keys, "frame 0 of 3").await;
        expect_corrupt(
            swap(&bytes, l.exact[1], l.big[2]),
            &keys,
            "(\"exact\") frame 1 of 3",
        )
        .await;
        let mut dup = bytes.to_vec();
        dup.copy_within(l.big[0].0..l.big[0].0 + l.big[0].1, l.big[1].0);
        expect_corrupt(dup, &keys, "(\"public.big\") frame 1 of 6").await;

        // A frame spliced in from another archive with the same options and data.
        let (other, _) = write(options(Compression::None, encrypted), &sample()).await;
        let o = layout(&other).await;
        assert_eq!(o.big[3], l.big[3]);
        let mut spliced = bytes.to_vec();
        spliced[l.big[3].0..l.big[3].0 + l.big[3].1]
            .copy_from_slice(&other[l.big[3].0..l.big[3].0 + l.big[3].1]);
        expect_corrupt(spliced, &keys, "frame 3 of 6").await;

        // Appended garbage, a dropped frame.
        let mut longer = bytes.to_vec();
        longer.extend_from_slice(b"junk");
        expect_corrupt(longer, &keys, "archive truncated or incomplete").await;
        let mut dropped = bytes.to_vec();
        dropped.drain(l.exact[1].0..l.exact[1].0 + l.exact[1].1);
        expect_corrupt(dropped, &keys, "archive trailer: footer at").await;
    }
}

#[tokio::test]
async fn truncation_anywhere_is_corrupt() {
    let (bytes, _) = write(options(Compression::default(), true), &sample()).await;
    let l = layout(&bytes).await;
    let cuts = [
        0,
        1,
        7,
        8,
        47,
        48,
        l.header_len - 1,
        l.header_len,
        l.header_len + 100,
        l.footer_offset,
        bytes.len() - 41,
        bytes.len() - 1,
    ];
    for cut in cuts {
        let err = check(bytes.slice(..cut), &keys()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt, "cut at {cut}: {err}");
        let expected = if cut == 0 {
            "not a pgbm archive"
        } else {
            "truncated"
        };
        assert!(err.to_string().contains(expected), "cut at {cut}: {err}");
    }
}

/// Every single-byte change anywhere in an archive is detected (as corruption, not
/// as a wrong key), and none makes the reader panic.
#[tokio::test]
async fn every_byte_is_covered_by_a_check() {
    for (compression, encrypted) in [(Compression::default(), true), (Compression::None, false)] {
        let input = [("a", data(FRAME + 10, 5)), ("b", data(10, 6))];
        let (bytes, _) = write(options(compression, encrypted), &input).await;
        for at in 0..bytes.len() {
            for bit in [0x01, 0x80] {
                let mut b = bytes.to_vec();
                b[at] ^= bit;
                match check(Bytes::from(b), &keys()).await {
                    Err(e) if e.kind() == ErrorKind::Corrupt => {}
                    other => panic!("byte {at} ^ {bit:#x} of {}: {other:?}", bytes.len()),
                }
            }
        }
    }
}

#[tokio::test]
async fn local_files_read_by_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.pgbm");
    let file = tokio::fs::File::create(&path).await.unwrap();
    let writer = ArchiveWriter::new(file, options(Compression::default(), true))
        .await
        .unwrap();
    let input = data(7 * FRAME + 3, 9);
    let mut seg = writer
        .begin_segment(SegmentMeta::new("t", "table-data"))
        .unwrap();
    seg.write(&input).await.unwrap();
    seg.finish().await.unwrap();
    let summary = writer.finish(json!({})).await.unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), summary.total_size);

    let reader = ArchiveReader::open(LocalFile::open(&path).await.unwrap(), &keys())
        .await
        .unwrap();
    let chunks: Vec<Bytes> = reader.open_segment(0).unwrap().try_collect().await.unwrap();
    assert!(
        chunks.iter().all(|c| c.len() <= FRAME),
        "chunks are at most one frame"
    );
    assert_eq!(chunks.concat(), input);
    let missing = LocalFile::open(dir.path().join("nope")).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Io);
}

#[tokio::test]
async fn misuse_is_reported() {
    let small = WriterOptions::default().with_frame_size(100);
    assert_eq!(
        ArchiveWriter::new(Vec::new(), small)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Usage
    );
    let no_slots = WriterOptions::default().with_encryption(KeySlotsSpec::new());
    assert_eq!(
        ArchiveWriter::new(Vec::new(), no_slots)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Usage
    );
    let bad_level = WriterOptions::default().with_compression(Compression::Zstd { level: 30 });
    assert_eq!(
        ArchiveWriter::new(Vec::new(), bad_level)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Usage
    );

    let writer = ArchiveWriter::new(Vec::new(), WriterOptions::default())
        .await
        .unwrap();
    let seg = writer
        .begin_segment(SegmentMeta::new("forgotten", "post-data"))
        .unwrap();
    drop(seg);
    let err = writer.finish(json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(
        err.to_string()
            .contains("(\"forgotten\") was begun but not finished"),
        "{err}"
    );

    let (bytes, _) = write(WriterOptions::default(), &sample()).await;
    let reader = ArchiveReader::open(bytes, &KeySource::new()).await.unwrap();
    assert_eq!(
        reader.open_segment(4).err().unwrap().kind(),
        ErrorKind::Usage
    );
    assert_eq!(reader.find_segment("public.big"), Some(3));
}

#[test]
fn compression_parses_and_prints() {
    for (text, c) in [
        ("none", Compression::None),
        ("zstd", Compression::Zstd { level: 3 }),
        ("zstd:19", Compression::Zstd { level: 19 }),
        ("zstd:-5", Compression::Zstd { level: -5 }),
    ] {
        assert_eq!(text.parse::<Compression>().unwrap(), c);
    }
    assert_eq!(Compression::default().to_string(), "zstd:3");
    for bad in ["gzip", "zstd:", "zstd:0", "zstd:23", "zstd:x", ""] {
        assert_eq!(
            bad.parse::<Compression>().unwrap_err().kind(),
            ErrorKind::Usage,
            "{bad}"
        );
    }
}

/// Archives written by an earlier build still read, byte for byte: guards format v1
/// (and the worked example in docs/FORMAT.md, which dumps these files) against change.
#[tokio::test]
async fn golden_archives_of_format_v1_still_read() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/archive/testdata");
    let key_text = std::fs::read_to_string(dir.join("tiny-keyfile.key")).unwrap();
    let key = KeyFileKey::parse(&key_text).unwrap();
    assert_eq!(key.key_id_hex(), "d50f726a77b5041b");
    for (file, keys, compression) in [
        ("tiny-plain.pgbm", KeySource::new(), Compression::None),
        (
            "tiny-keyfile.pgbm",
            KeySource::new().with_key_file(key),
            Compression::default(),
        ),
    ] {
        let src = LocalFile::open(dir.join(file)).await.unwrap();
        let reader = ArchiveReader::open(src, &keys).await.unwrap();
        assert_eq!(reader.info().compression, compression, "{file}");
        assert_eq!(reader.manifest(), &json!({"database": "demo"}));
        let names: Vec<&str> = reader
            .segments()
            .iter()
            .map(|s| s.meta.name.as_str())
            .collect();
        assert_eq!(names, ["pre-data", "public.t"]);
        assert_eq!(
            read_segment(&reader, 0).await.unwrap(),
            b"SET client_encoding = 'UTF8';\n"
        );
        assert_eq!(read_segment(&reader, 1).await.unwrap(), b"1\tone\n2\ttwo\n");
    }
}

#[tokio::test]
async fn tokio_io_adapters_write_segments_and_read_the_whole_script() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let writer = ArchiveWriter::new(Vec::new(), options(Compression::default(), true))
        .await
        .unwrap();
    let parts = [
        data(10, 1),
        data(3 * FRAME + 5, 2),
        Vec::new(),
        data(FRAME, 3),
    ];
    let mut infos = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let seg = writer
            .begin_segment(SegmentMeta::new(format!("s{i}"), "x"))
            .unwrap();
        let mut w = seg.into_async_write();
        for chunk in part.chunks(777) {
            w.write_all(chunk).await.unwrap();
        }
        w.flush().await.unwrap();
        assert!(w.info().is_none());
        w.shutdown().await.unwrap();
        assert!(
            w.write_all(b"late").await.is_err(),
            "writes after shutdown fail"
        );
        infos.push(w.info().unwrap().clone());
    }
    let (_, sink) = writer.finish_into_inner(json!({})).await.unwrap();
    let bytes = Bytes::from(sink);
    let reader = ArchiveReader::open(bytes.clone(), &keys()).await.unwrap();
    assert_eq!(reader.segments(), infos.as_slice());
    let mut script = Vec::new();
    StreamReader::new(reader.open_all())
        .read_to_end(&mut script)
        .await
        .unwrap();
    assert_eq!(script, parts.concat());

    // A damaged frame surfaces as an io::Error wrapping the Corrupt error.
    let l = layout(&bytes).await;
    let damaged = flip(&bytes, l.big.first().map_or(l.exact[0].0, |f| f.0) + 3);
    let reader = ArchiveReader::open(Bytes::from(damaged), &keys())
        .await
        .unwrap();
    let err = StreamReader::new(reader.open_all())
        .read_to_end(&mut Vec::new())
        .await
        .unwrap_err();
    let inner = err.into_inner().unwrap().downcast::<Error>().unwrap();
    assert_eq!(inner.kind(), ErrorKind::Corrupt, "{inner}");
}
