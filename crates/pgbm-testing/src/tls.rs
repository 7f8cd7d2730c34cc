//! Certificates for clusters started with TLS.
//!
//! Each TLS cluster gets its own throwaway CA and a server certificate signed by it. The
//! server certificate names only the DNS name `localhost`, deliberately not the address
//! `127.0.0.1`: `sslmode=verify-full` then succeeds with `host=localhost` and fails with
//! `host=127.0.0.1` (wrong name), while `verify-ca` succeeds with both. Both names reach
//! the same server, so conn tests can check both outcomes against one cluster.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use crate::privilege::Runner;

/// The host name the server certificate is valid for.
pub(crate) const SERVER_NAME: &str = "localhost";

/// The files of a TLS cluster.
#[derive(Debug)]
pub(crate) struct TlsFiles {
    /// The CA certificate (PEM), what clients trust.
    pub(crate) ca_cert: PathBuf,
    /// The CA certificate's PEM text.
    pub(crate) ca_cert_pem: String,
    /// The server certificate (PEM), `ssl_cert_file`.
    pub(crate) server_cert: PathBuf,
    /// The server's private key (PEM, mode 0600), `ssl_key_file`.
    pub(crate) server_key: PathBuf,
}

/// Generates a CA and a server certificate and writes them into `dir` (created).
///
/// The server must own its key file and the key must not be readable by others, or
/// PostgreSQL refuses to start, hence the chown to the server's user and mode 0600.
pub(crate) fn write_files(dir: &Path, runner: &Runner) -> std::io::Result<TlsFiles> {
    let (ca_pem, cert_pem, key_pem) = generate().map_err(std::io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    runner.give(dir)?;
    let files = TlsFiles {
        ca_cert: dir.join("ca.crt"),
        ca_cert_pem: ca_pem,
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
    };
    std::fs::write(&files.ca_cert, &files.ca_cert_pem)?;
    std::fs::write(&files.server_cert, cert_pem)?;
    std::fs::write(&files.server_key, key_pem)?;
    std::fs::set_permissions(&files.server_key, std::fs::Permissions::from_mode(0o600))?;
    for file in [&files.ca_cert, &files.server_cert, &files.server_key] {
        runner.give(file)?;
    }
    Ok(files)
}

/// `(CA certificate, server certificate, server key)`, all PEM.
fn generate() -> Result<(String, String, String), rcgen::Error> {
    let mut ca_params = CertificateParams::new(Vec::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "pgbm test CA");
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut server_params = CertificateParams::new(vec![SERVER_NAME.to_string()])?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, SERVER_NAME);
    let server_key = KeyPair::generate()?;
    let server_cert = server_params.signed_by(&server_key, &issuer)?;
    Ok((ca_cert.pem(), server_cert.pem(), server_key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_pem_files_with_a_private_key() {
        let tmp = tempfile::tempdir().unwrap();
        let files = write_files(&tmp.path().join("tls"), &Runner::Direct).unwrap();
        let ca = std::fs::read_to_string(&files.ca_cert).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
        assert_eq!(ca, files.ca_cert_pem);
        assert_ne!(ca, std::fs::read_to_string(&files.server_cert).unwrap());
        let mode = std::fs::metadata(&files.server_key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
