//! Tests of key handling and key slots.

use super::*;
use crate::ErrorKind;

fn params(iterations: u32) -> KdfParams {
    KdfParams::new(b"0123456789abcdef".to_vec(), iterations).unwrap()
}

#[test]
fn pbkdf2_matches_a_published_vector() {
    // PBKDF2-HMAC-SHA256 vector (P, S from RFC 6070's long case, c = 4096).
    let p = KdfParams::new(b"saltSALTsaltSALTsaltSALTsaltSALTsalt".to_vec(), 4096).unwrap();
    let key = PassphraseKey::derive(&Passphrase::new("passwordPASSWORDpassword"), p);
    assert_eq!(
        to_hex(key.kek()),
        "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1"
    );
}

#[test]
fn key_file_round_trips_and_names_its_id() {
    let key = KeyFileKey::generate().unwrap();
    let text = key.to_file_text();
    assert!(text.starts_with("pgbm-key-file v1\n"));
    assert!(text.contains(&key.key_id_hex()));
    let parsed = KeyFileKey::parse(&text).unwrap();
    assert_eq!(parsed.as_bytes(), key.as_bytes());
    // CRLF line ends and surrounding blank lines are fine.
    let crlf = format!("\r\n{}\r\n", text.replace('\n', "\r\n"));
    assert_eq!(KeyFileKey::parse(&crlf).unwrap().as_bytes(), key.as_bytes());
    let generated = generate_key_file().unwrap();
    assert!(KeyFileKey::parse(&generated).is_ok());
}

#[test]
fn malformed_key_files_are_usage_errors_that_do_not_quote_the_key() {
    let hex = "ab".repeat(31); // 62 digits: one byte short
    for text in [
        String::new(),
        format!("{hex}ab\n"),
        format!("pgbm-key-file v1\n{hex}\n"),
        format!("pgbm-key-file v1\n{hex}zz\n"),
        format!("pgbm-key-file v1\n{hex}ab\nmore\n"),
        "pgbm-key-file v2\n".to_string(),
    ] {
        let err = KeyFileKey::parse(&text).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{text:?}");
        assert!(!err.to_string().contains(&hex), "{err}");
    }
}

#[test]
fn debug_never_prints_key_bytes() {
    let key = KeyFileKey::from_bytes([0xab; 32]);
    let data = DataKey::from_bytes([0xcd; 32]);
    let pass = Passphrase::new("hunter2-secret");
    let derived = PassphraseKey::derive(&pass, params(1));
    let kek_hex = to_hex(derived.kek());
    let source = KeySource::new()
        .with_passphrase(pass.clone())
        .with_key_file(key.clone())
        .with_derived(derived.clone());
    let spec = KeySlotsSpec::new()
        .with_key_file(key.clone())
        .with_passphrase_key(derived.clone());
    let all = format!("{key:?} {data:?} {pass:?} {derived:?} {source:?} {spec:?}");
    for secret in ["abababab", "cdcdcdcd", "hunter2", kek_hex.as_str()] {
        assert!(!all.contains(secret), "{secret} leaked in {all}");
    }
    assert!(all.contains(&key.key_id_hex()));
}

#[test]
fn kdf_params_are_validated() {
    assert!(KdfParams::new(vec![0; 15], 1).is_err());
    assert!(KdfParams::new(vec![0; 65], 1).is_err());
    assert!(KdfParams::new(vec![0; 16], 0).is_err());
    assert_eq!(KdfParams::random().unwrap().iterations(), 600_000);
    assert_ne!(
        KdfParams::random().unwrap().salt(),
        KdfParams::random().unwrap().salt()
    );
}

fn encode(spec: &KeySlotsSpec, dk: &DataKey, digest: &[u8; 32]) -> Vec<RawSlot> {
    let bytes = encode_slots(spec, dk, digest).unwrap();
    parse_slots(&bytes, u16::try_from(spec.len()).unwrap()).unwrap()
}

#[tokio::test]
async fn any_slot_opens_and_wrong_keys_are_wrong_key_errors() {
    let dk = DataKey::generate().unwrap();
    let digest = [7u8; 32];
    let file_key = KeyFileKey::generate().unwrap();
    let pass = Passphrase::new("correct horse");
    let pk = PassphraseKey::derive_async(&pass, params(10))
        .await
        .unwrap();
    let spec = KeySlotsSpec::new()
        .with_passphrase_key(pk)
        .with_key_file(file_key.clone());
    let slots = encode(&spec, &dk, &digest);
    assert!(matches!(slots[0].kind, SlotKind::Passphrase(_)));
    assert_eq!(
        slots[1].kind,
        SlotKind::KeyFile {
            key_id: file_key.key_id()
        }
    );

    let by_pass = KeySource::new().with_passphrase(pass.clone());
    let opened = open_slots(&slots, &by_pass, &digest).await.unwrap();
    assert_eq!(opened.as_bytes(), dk.as_bytes());
    assert_eq!(by_pass.derived_keys().len(), 1, "derived key is cached");

    let by_file = KeySource::new().with_key_file(file_key);
    let opened = open_slots(&slots, &by_file, &digest).await.unwrap();
    assert_eq!(opened.as_bytes(), dk.as_bytes());

    let wrong = KeySource::new()
        .with_passphrase(Passphrase::new("wrong"))
        .with_key_file(KeyFileKey::generate().unwrap());
    let err = open_slots(&slots, &wrong, &digest).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongKey);
    assert!(
        err.to_string().starts_with("wrong passphrase or key"),
        "{err}"
    );

    let err = open_slots(&slots, &KeySource::new(), &digest)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongKey);
    assert!(err.to_string().contains("is encrypted"), "{err}");

    // A slot is bound to its archive: another header digest does not open it.
    let err = open_slots(&slots, &by_pass, &[8u8; 32]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongKey);
}

#[tokio::test]
async fn cached_derived_key_opens_without_the_passphrase() {
    let dk = DataKey::generate().unwrap();
    let digest = [1u8; 32];
    let pk = PassphraseKey::derive(&Passphrase::new("p"), params(5));
    let slots = encode(
        &KeySlotsSpec::new().with_passphrase_key(pk.clone()),
        &dk,
        &digest,
    );
    let keys = KeySource::new().with_derived(pk);
    let opened = open_slots(&slots, &keys, &digest).await.unwrap();
    assert_eq!(opened.as_bytes(), dk.as_bytes());
}

#[test]
fn malformed_slot_tables_are_reported() {
    assert!(parse_slots(&[1, 0], 1).unwrap_err().contains("slot 0"));
    assert!(parse_slots(&[1, 0, 200, 0], 1)
        .unwrap_err()
        .contains("impossible length"));
    assert!(parse_slots(&[2, 0, 5, 0, 9], 1)
        .unwrap_err()
        .contains("bad length"));
    assert!(parse_slots(&[9, 0, 4, 0, 1], 1)
        .unwrap_err()
        .contains("after the last"));
    let unknown = parse_slots(&[9, 0, 4, 0], 1).unwrap();
    assert_eq!(unknown[0].kind, SlotKind::Unknown { type_code: 9 });
}
