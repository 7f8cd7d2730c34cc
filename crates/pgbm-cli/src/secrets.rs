//! Passphrases and key files: read from where the user put them, never from a bare
//! argument, and never echoed.
//!
//! * Passphrase: `--passphrase-file FILE` (the file's content without one final
//!   newline), else the `PGBM_PASSPHRASE` environment variable.
//! * Key files: `--key-file FILE`, repeatable, in the format of `pgbm key generate`.
//!
//! Errors name the file, never its content.

use std::io::Write;
use std::path::Path;

use pgbm_core::crypto::{generate_key_file, KeyFileKey, KeySource, Passphrase};
use pgbm_core::{Error, Result};
use zeroize::Zeroizing;

use crate::args::KeyArgs;

/// The environment variable holding a passphrase.
pub const PASSPHRASE_ENV: &str = "PGBM_PASSPHRASE";

/// The keys a command was given.
#[derive(Debug, Default, Clone)]
pub struct Secrets {
    /// The passphrase, if any.
    pub passphrase: Option<Passphrase>,
    /// The key files' keys.
    pub key_files: Vec<KeyFileKey>,
}

impl Secrets {
    /// Reads the keys `args` and the environment point at.
    ///
    /// # Errors
    /// [`ErrorKind::Io`] for an unreadable file; [`ErrorKind::Usage`] for an empty
    /// passphrase or a file that is not a key file.
    pub fn load(args: &KeyArgs) -> Result<Secrets> {
        let env = std::env::var(PASSPHRASE_ENV).ok().map(Zeroizing::new);
        Self::load_with_env(args, env.as_deref().map(String::as_str))
    }

    /// [`load`](Self::load) with the environment's passphrase given (for tests).
    fn load_with_env(args: &KeyArgs, env_passphrase: Option<&str>) -> Result<Secrets> {
        let passphrase = match &args.passphrase_file {
            Some(path) => Some(read_passphrase_file(path)?),
            None => match env_passphrase {
                Some("") => return Err(Error::usage(format!("{PASSPHRASE_ENV} is set but empty"))),
                Some(p) => Some(Passphrase::new(p)),
                None => None,
            },
        };
        let key_files = args
            .key_files
            .iter()
            .map(|path| read_key_file(path))
            .collect::<Result<_>>()?;
        Ok(Secrets {
            passphrase,
            key_files,
        })
    }

    /// The keys to try on an archive's key slots.
    pub fn key_source(&self) -> KeySource {
        let mut keys = KeySource::new();
        if let Some(p) = &self.passphrase {
            keys = keys.with_passphrase(p.clone());
        }
        for k in &self.key_files {
            keys = keys.with_key_file(k.clone());
        }
        keys
    }
}

fn read_passphrase_file(path: &Path) -> Result<Passphrase> {
    let bytes = Zeroizing::new(
        std::fs::read(path)
            .map_err(|e| Error::io(format_args!("reading {}", path.display()), e))?,
    );
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::usage(format!("passphrase file {} is not UTF-8", path.display())))?;
    let text = text
        .strip_suffix('\n')
        .map_or(text, |t| t.strip_suffix('\r').unwrap_or(t));
    if text.is_empty() {
        return Err(Error::usage(format!(
            "passphrase file {} is empty",
            path.display()
        )));
    }
    Ok(Passphrase::new(text))
}

fn read_key_file(path: &Path) -> Result<KeyFileKey> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Error::io(format_args!("reading key file {}", path.display()), e))?,
    );
    KeyFileKey::parse(&text).map_err(|e| Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Writes a new key file at `path` with mode 0600; refuses to overwrite anything.
/// Returns the key id.
///
/// # Errors
/// [`ErrorKind::Io`] if the file exists or cannot be written (a half-written file is
/// removed).
pub fn write_new_key_file(path: &Path) -> Result<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let text = generate_key_file()?;
    let key_id = KeyFileKey::parse(&text)?.key_id_hex();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format_args!("creating {}", path.display()), e))?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(Error::io(format_args!("writing {}", path.display()), e));
    }
    Ok(key_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgbm_core::ErrorKind;
    use std::os::unix::fs::PermissionsExt;

    fn args(passphrase_file: Option<&Path>, key_files: &[&Path]) -> KeyArgs {
        KeyArgs {
            passphrase_file: passphrase_file.map(Path::to_path_buf),
            key_files: key_files.iter().map(|p| p.to_path_buf()).collect(),
        }
    }

    #[test]
    fn passphrase_files_lose_one_final_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        for (content, ok) in [
            ("s3cret\n", true),
            ("s3cret\r\n", true),
            ("s3cret", true),
            ("\n", false),
            ("", false),
        ] {
            std::fs::write(&f, content).unwrap();
            let got = Secrets::load_with_env(&args(Some(&f), &[]), Some("ignored"));
            assert_eq!(got.is_ok(), ok, "{content:?}");
        }
        // The file wins over the environment; the environment alone works too.
        std::fs::write(&f, "from file\n").unwrap();
        let s = Secrets::load_with_env(&args(Some(&f), &[]), Some("from env")).unwrap();
        assert!(s.passphrase.is_some());
        let s = Secrets::load_with_env(&args(None, &[]), Some("from env")).unwrap();
        assert!(s.passphrase.is_some());
        assert!(Secrets::load_with_env(&args(None, &[]), Some("")).is_err());
        let none = Secrets::load_with_env(&args(None, &[]), None).unwrap();
        assert!(none.passphrase.is_none() && none.key_files.is_empty());
    }

    #[test]
    fn key_files_are_generated_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k.key");
        let id = write_new_key_file(&f).unwrap();
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let s = Secrets::load_with_env(&args(None, &[&f]), None).unwrap();
        assert_eq!(s.key_files[0].key_id_hex(), id);
        // Never overwritten.
        let e = write_new_key_file(&f).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(
            Secrets::load_with_env(&args(None, &[&f]), None)
                .unwrap()
                .key_files[0]
                .key_id_hex(),
            id
        );
    }

    #[test]
    fn bad_key_files_are_named_not_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.key");
        std::fs::write(&f, "pgbm-key-file v1\nsecretsecret\n").unwrap();
        let e = Secrets::load_with_env(&args(None, &[&f]), None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(e.to_string().contains("bad.key"), "{e}");
        assert!(!e.to_string().contains("secretsecret"), "{e}");
        let missing = dir.path().join("missing.key");
        let e = Secrets::load_with_env(&args(None, &[&missing]), None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
    }
}
