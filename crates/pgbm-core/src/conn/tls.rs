//! TLS with rustls, following libpq's `sslmode` semantics.
//!
//! | sslmode      | TLS                         | certificate check                    |
//! |--------------|-----------------------------|--------------------------------------|
//! | disable      | never                       | -                                    |
//! | allow/prefer | if the server offers it     | chain, if a root certificate exists  |
//! | require      | always                      | chain, if a root certificate exists  |
//! | verify-ca    | always                      | chain                                |
//! | verify-full  | always                      | chain and host name                  |
//!
//! "A root certificate exists" means `sslrootcert` names a readable file, or
//! `~/.postgresql/root.crt` exists (libpq's default). `sslrootcert=system` uses the
//! Mozilla roots from webpki-roots and, as in libpq, demands `verify-full`.
//!
//! Two libpq behaviours that plain rustls does not have are kept on purpose, because
//! the certificates made by the recipes in PostgreSQL's documentation depend on them:
//! a server certificate that is itself listed in the root file is trusted as is (a
//! self-signed server certificate, often marked as a CA, used as its own root), and the
//! host name is checked libpq's way (subjectAltName, else the Common Name; see
//! [`super::certname`]).
//!
//! Unix-domain sockets never use TLS (libpq ignores `sslmode` there too).

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// libpq's `sslmode`: whether and how TLS is used. The default is [`SslMode::Prefer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// libpq tries plain first, then TLS; pgbm treats it like [`SslMode::Prefer`].
    Allow,
    /// Use TLS if the server supports it; fall back to plain if it refuses or the
    /// handshake fails.
    #[default]
    Prefer,
    /// Always use TLS. The certificate is checked only if a root certificate exists.
    Require,
    /// Always use TLS and check that the certificate chains to a trusted root.
    VerifyCa,
    /// Like [`SslMode::VerifyCa`], and check that the certificate names the host.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling (`"verify-full"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether this mode checks the certificate even without a root certificate file.
    fn always_verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return Err(Error::usage(format!("invalid sslmode value: \"{s}\""))),
        })
    }
}

/// The `sslrootcert` value that selects the system's trusted roots.
pub(crate) const SYSTEM_ROOTS: &str = "system";

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    /// A PEM file (`sslrootcert`, or `~/.postgresql/root.crt`).
    File(PathBuf),
    /// The Mozilla roots (`sslrootcert=system`).
    System,
}

/// How the server certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Not at all (libpq's `require`/`prefer` without a root certificate).
    Nothing,
    /// The chain up to a trusted root, but not the host name.
    Chain,
    /// The chain and the host name.
    ChainAndName,
}

/// What TLS does for one connection, decided before connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsPolicy {
    /// The effective mode.
    pub mode: SslMode,
    /// Trusted roots, if certificates are checked.
    pub roots: Option<Roots>,
    /// How the certificate is checked.
    pub verify: Verify,
}

impl TlsPolicy {
    /// Decides the policy from the options, libpq's way.
    ///
    /// `mode` and `rootcert` are the values given (or `None`); `default_rootcert` is
    /// `~/.postgresql/root.crt` when known; `exists` tells whether a file exists.
    pub fn decide(
        mode: Option<SslMode>,
        rootcert: Option<&str>,
        default_rootcert: Option<&Path>,
        exists: &dyn Fn(&Path) -> bool,
    ) -> Result<Self> {
        if rootcert == Some(SYSTEM_ROOTS) {
            return Self::system_roots(mode);
        }
        let mode = mode.unwrap_or_default();
        if mode == SslMode::Disable {
            return Ok(Self::disabled());
        }
        let path = rootcert
            .map(PathBuf::from)
            .or_else(|| default_rootcert.map(Path::to_path_buf));
        let found = path.filter(|p| exists(p));
        let verify = match (mode, &found) {
            (SslMode::VerifyFull, _) => Verify::ChainAndName,
            (SslMode::VerifyCa, _) => Verify::Chain,
            // libpq checks the chain whenever a root certificate is available.
            (_, Some(_)) => Verify::Chain,
            (_, None) => Verify::Nothing,
        };
        if mode.always_verifies() && found.is_none() {
            return Err(missing_rootcert(rootcert, default_rootcert));
        }
        Ok(TlsPolicy {
            mode,
            roots: found.map(Roots::File),
            verify,
        })
    }

    /// No TLS at all.
    pub fn disabled() -> Self {
        TlsPolicy {
            mode: SslMode::Disable,
            roots: None,
            verify: Verify::Nothing,
        }
    }

    fn system_roots(mode: Option<SslMode>) -> Result<Self> {
        match mode {
            None | Some(SslMode::VerifyFull) => Ok(TlsPolicy {
                mode: SslMode::VerifyFull,
                roots: Some(Roots::System),
                verify: Verify::ChainAndName,
            }),
            Some(weak) => Err(Error::usage(format!(
                "weak sslmode \"{weak}\" may not be used with sslrootcert=system (use \"verify-full\")"
            ))),
        }
    }
}

fn missing_rootcert(given: Option<&str>, default: Option<&Path>) -> Error {
    let path = given
        .map(str::to_string)
        .or_else(|| default.map(|p| p.display().to_string()))
        .unwrap_or_else(|| "~/.postgresql/root.crt".to_string());
    Error::usage(format!(
        "root certificate file \"{path}\" does not exist; either provide the file, use the \
         system's trusted roots with sslrootcert=system, or change sslmode to disable server \
         certificate verification"
    ))
}

/// The crypto provider: ring, chosen explicitly so that no process-wide default is
/// needed and aws-lc never enters the build.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls connector for `policy`. Reads the root certificate file.
pub(crate) fn connector(policy: &TlsPolicy) -> Result<TrackedTls> {
    let provider = provider();
    let trust = match (&policy.roots, policy.verify) {
        (_, Verify::Nothing) | (None, _) => None,
        (Some(roots), verify) => Some(Trust::load(roots, verify == Verify::ChainAndName)?),
    };
    let verifier = Arc::new(CertVerifier {
        provider: provider.clone(),
        trust,
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(TrackedTls::new(MakeRustlsConnect::new(config)))
}

/// Verifies the server certificate as the sslmode asks: without `trust` any
/// certificate is accepted (libpq's `require` without a root certificate); with it,
/// the chain and, for `verify-full`, the host name. Either way the server must own the
/// key of the certificate it sent (the handshake signatures are checked).
#[derive(Debug)]
struct CertVerifier {
    provider: Arc<CryptoProvider>,
    trust: Option<Trust>,
}

/// Trusted roots for `verify-ca` / `verify-full` (and `require` with a root file).
#[derive(Debug)]
struct Trust {
    roots: RootCertStore,
    /// The root file's certificates, to trust a server certificate listed there as is.
    pinned: Vec<CertificateDer<'static>>,
    check_name: bool,
}

impl Trust {
    fn load(roots: &Roots, check_name: bool) -> Result<Self> {
        let (store, pinned) = match roots {
            Roots::System => (
                RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                },
                Vec::new(),
            ),
            Roots::File(path) => load_root_file(path)?,
        };
        Ok(Trust {
            roots: store,
            pinned,
            check_name,
        })
    }

    fn check_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        provider: &CryptoProvider,
    ) -> std::result::Result<(), rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            return Ok(());
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &self.roots,
            intermediates,
            now,
            provider.signature_verification_algorithms.all,
        )
    }
}

/// Reads a PEM file of root certificates.
fn load_root_file(path: &Path) -> Result<(RootCertStore, Vec<CertificateDer<'static>>)> {
    let what = format!("reading root certificate file \"{}\"", path.display());
    let pem = std::fs::read(path).map_err(|e| Error::io(&what, e))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::usage(format!("{what}: {e}")))?;
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(certs.iter().cloned());
    if certs.is_empty() {
        return Err(Error::usage(format!("{what}: no certificates found")));
    }
    tracing::debug!("loaded {added} of {} root certificates", certs.len());
    Ok((store, certs))
}

impl ServerCertVerifier for CertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Some(trust) = &self.trust {
            trust.check_chain(end_entity, intermediates, now, &self.provider)?;
            if trust.check_name {
                super::certname::check(end_entity, server_name)?;
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The outcome of the last TLS handshake made through a [`TrackedTls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handshake {
    /// No handshake was attempted (the server declined TLS, or the socket never
    /// connected).
    NotTried,
    /// TLS is in use.
    Succeeded,
    /// The handshake failed (certificate rejected, protocol error, ...).
    Failed,
}

impl Handshake {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Handshake::Succeeded,
            2 => Handshake::Failed,
            _ => Handshake::NotTried,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Handshake::NotTried => 0,
            Handshake::Succeeded => 1,
            Handshake::Failed => 2,
        }
    }
}

/// [`MakeRustlsConnect`] that remembers how the last TLS handshake went, so that
/// `sslmode=prefer` can retry without TLS as libpq does. tokio-postgres tells neither
/// a handshake failure apart from other errors nor whether TLS was in use.
#[derive(Clone)]
pub(crate) struct TrackedTls {
    inner: MakeRustlsConnect,
    last: Arc<AtomicU8>,
}

impl TrackedTls {
    fn new(inner: MakeRustlsConnect) -> Self {
        TrackedTls {
            inner,
            last: Arc::new(AtomicU8::new(Handshake::NotTried.to_u8())),
        }
    }

    /// How the last handshake made through this connector (or a clone) went.
    pub fn last_handshake(&self) -> Handshake {
        Handshake::from_u8(self.last.load(Ordering::SeqCst))
    }
}

impl<S> MakeTlsConnect<S> for TrackedTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = Tracked<<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(
        &mut self,
        domain: &str,
    ) -> std::result::Result<Self::TlsConnect, Self::Error> {
        Ok(Tracked {
            inner: <MakeRustlsConnect as MakeTlsConnect<S>>::make_tls_connect(
                &mut self.inner,
                domain,
            )?,
            last: self.last.clone(),
        })
    }
}

/// One handshake of [`TrackedTls`].
pub(crate) struct Tracked<T> {
    inner: T,
    last: Arc<AtomicU8>,
}

impl<S, T> TlsConnect<S> for Tracked<T>
where
    T: TlsConnect<S>,
    T::Future: Send + 'static,
{
    type Stream = T::Stream;
    type Error = T::Error;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<T::Stream, T::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let handshake = self.inner.connect(stream);
        let last = self.last;
        Box::pin(async move {
            let result = handshake.await;
            let outcome = if result.is_ok() {
                Handshake::Succeeded
            } else {
                Handshake::Failed
            };
            last.store(outcome.to_u8(), Ordering::SeqCst);
            result
        })
    }
}

/// A one-line explanation of a failed handshake, in libpq's terms where rustls's are
/// cryptic (`invalid peer certificate: NotValidForName`).
pub(crate) fn explain_handshake_error(
    err: &(dyn std::error::Error + 'static),
    host: &str,
) -> String {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(rustls::Error::InvalidCertificate(cert)) = e.downcast_ref::<rustls::Error>() {
            return explain_certificate_error(cert, host);
        }
        // io::Error's `source()` skips the error it wraps, so look inside it.
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    err.to_string()
}

fn explain_certificate_error(err: &rustls::CertificateError, host: &str) -> String {
    use rustls::CertificateError as E;
    match err {
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            format!("server certificate does not match host name \"{host}\"")
        }
        E::UnknownIssuer => {
            "server certificate is not signed by a trusted root certificate".to_string()
        }
        E::Expired | E::ExpiredContext { .. } => "server certificate has expired".to_string(),
        E::NotValidYet | E::NotValidYetContext { .. } => {
            "server certificate is not valid yet".to_string()
        }
        E::Revoked => "server certificate has been revoked".to_string(),
        // A root or chain whose signature does not verify the server's certificate:
        // usually a root file from another CA with the same name.
        E::BadSignature | E::UnsupportedSignatureAlgorithmContext { .. } => {
            "server certificate's signature does not verify against the trusted root \
             certificates (is sslrootcert the right CA?)"
                .to_string()
        }
        E::BadEncoding => "server certificate is malformed".to_string(),
        other => format!("invalid server certificate: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn decide(
        mode: Option<SslMode>,
        rootcert: Option<&str>,
        existing: &[&str],
    ) -> Result<TlsPolicy> {
        let exists = |p: &Path| existing.iter().any(|e| Path::new(e) == p);
        TlsPolicy::decide(
            mode,
            rootcert,
            Some(Path::new("/home/u/.postgresql/root.crt")),
            &exists,
        )
    }

    fn policy(mode: SslMode, roots: Option<&str>, verify: Verify) -> TlsPolicy {
        TlsPolicy {
            mode,
            roots: roots.map(|r| Roots::File(r.into())),
            verify,
        }
    }

    #[test]
    fn sslmode_round_trips() {
        for mode in [
            SslMode::Disable,
            SslMode::Allow,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            assert_eq!(mode.as_str().parse::<SslMode>().expect("parse"), mode);
        }
        let err = "verify_full".parse::<SslMode>().expect_err("bad");
        assert_eq!(err.kind(), ErrorKind::Usage);
        assert_eq!(err.to_string(), "invalid sslmode value: \"verify_full\"");
    }

    #[test]
    fn default_is_prefer_without_verification() {
        assert_eq!(
            decide(None, None, &[]).expect("ok"),
            policy(SslMode::Prefer, None, Verify::Nothing)
        );
        assert_eq!(
            decide(Some(SslMode::Allow), None, &[]).expect("ok"),
            policy(SslMode::Allow, None, Verify::Nothing)
        );
    }

    #[test]
    fn require_checks_the_chain_only_when_a_root_exists() {
        assert_eq!(
            decide(Some(SslMode::Require), None, &[]).expect("ok"),
            policy(SslMode::Require, None, Verify::Nothing)
        );
        assert_eq!(
            decide(Some(SslMode::Require), Some("/ca.pem"), &["/ca.pem"]).expect("ok"),
            policy(SslMode::Require, Some("/ca.pem"), Verify::Chain)
        );
        // libpq's default root file counts too.
        let default = "/home/u/.postgresql/root.crt";
        assert_eq!(
            decide(Some(SslMode::Require), None, &[default]).expect("ok"),
            policy(SslMode::Require, Some(default), Verify::Chain)
        );
        // A named file that does not exist is ignored below verify-ca, as in libpq.
        assert_eq!(
            decide(Some(SslMode::Require), Some("/missing.pem"), &[]).expect("ok"),
            policy(SslMode::Require, None, Verify::Nothing)
        );
    }

    #[test]
    fn verify_modes_need_a_root_certificate() {
        assert_eq!(
            decide(Some(SslMode::VerifyCa), Some("/ca.pem"), &["/ca.pem"]).expect("ok"),
            policy(SslMode::VerifyCa, Some("/ca.pem"), Verify::Chain)
        );
        assert_eq!(
            decide(Some(SslMode::VerifyFull), Some("/ca.pem"), &["/ca.pem"]).expect("ok"),
            policy(SslMode::VerifyFull, Some("/ca.pem"), Verify::ChainAndName)
        );
        for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
            let err = decide(Some(mode), Some("/missing.pem"), &[]).expect_err("missing");
            assert_eq!(err.kind(), ErrorKind::Usage);
            assert!(
                err.to_string().contains("\"/missing.pem\" does not exist"),
                "{err}"
            );
            let err = decide(Some(mode), None, &[]).expect_err("missing default");
            assert!(err.to_string().contains(".postgresql/root.crt"), "{err}");
        }
    }

    #[test]
    fn disable_ignores_roots() {
        assert_eq!(
            decide(Some(SslMode::Disable), Some("/ca.pem"), &["/ca.pem"]).expect("ok"),
            policy(SslMode::Disable, None, Verify::Nothing)
        );
    }

    #[test]
    fn system_roots_imply_and_demand_verify_full() {
        let expected = TlsPolicy {
            mode: SslMode::VerifyFull,
            roots: Some(Roots::System),
            verify: Verify::ChainAndName,
        };
        assert_eq!(decide(None, Some("system"), &[]).expect("ok"), expected);
        assert_eq!(
            decide(Some(SslMode::VerifyFull), Some("system"), &[]).expect("ok"),
            expected
        );
        let err = decide(Some(SslMode::Require), Some("system"), &[]).expect_err("weak");
        assert_eq!(
            err.to_string(),
            "weak sslmode \"require\" may not be used with sslrootcert=system (use \"verify-full\")"
        );
    }

    #[test]
    fn connectors_build_for_every_policy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let err = connector(&TlsPolicy {
            mode: SslMode::VerifyCa,
            roots: Some(Roots::File(empty)),
            verify: Verify::Chain,
        })
        .err()
        .expect("no certificates");
        assert!(err.to_string().contains("no certificates found"), "{err}");

        let missing = dir.path().join("missing.pem");
        let err = connector(&TlsPolicy {
            mode: SslMode::VerifyCa,
            roots: Some(Roots::File(missing)),
            verify: Verify::Chain,
        })
        .err()
        .expect("missing file");
        assert_eq!(err.kind(), ErrorKind::Io);

        connector(&policy(SslMode::Require, None, Verify::Nothing)).expect("no roots");
        connector(&TlsPolicy {
            mode: SslMode::VerifyFull,
            roots: Some(Roots::System),
            verify: Verify::ChainAndName,
        })
        .expect("system roots");
    }

    /// Test certificates made with rcgen.
    mod certs {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

        pub struct Ca {
            pub pem: String,
            issuer: Issuer<'static, KeyPair>,
        }

        pub fn ca(name: &str) -> Ca {
            let key = KeyPair::generate().expect("key");
            let mut params = CertificateParams::default();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.self_signed(&key).expect("ca cert");
            Ca {
                pem: cert.pem(),
                issuer: Issuer::new(params, key),
            }
        }

        fn server_params(cn: &str, dns: &[&str], ips: &[&str]) -> CertificateParams {
            let mut params = CertificateParams::default();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params.distinguished_name.push(DnType::CommonName, cn);
            params.subject_alt_names = dns
                .iter()
                .map(|d| SanType::DnsName((*d).try_into().expect("dns")))
                .chain(
                    ips.iter()
                        .map(|i| SanType::IpAddress(i.parse().expect("ip"))),
                )
                .collect();
            params
        }

        /// A server certificate (DER) issued by `ca`.
        pub fn issued(ca: &Ca, cn: &str, dns: &[&str], ips: &[&str]) -> Vec<u8> {
            let key = KeyPair::generate().expect("key");
            let cert = server_params(cn, dns, ips)
                .signed_by(&key, &ca.issuer)
                .expect("server cert");
            cert.der().to_vec()
        }

        /// A self-signed server certificate marked as a CA, like PostgreSQL's docs make:
        /// returns (DER, PEM).
        pub fn self_signed_ca(cn: &str) -> (Vec<u8>, String) {
            let key = KeyPair::generate().expect("key");
            let mut params = server_params(cn, &[], &[]);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let cert = params.self_signed(&key).expect("cert");
            (cert.der().to_vec(), cert.pem())
        }
    }

    fn trusted(pem: &str, check_name: bool) -> (CertVerifier, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("root.crt");
        std::fs::write(&path, pem).expect("write");
        let trust = Trust::load(&Roots::File(path), check_name).expect("load");
        let verifier = CertVerifier {
            provider: provider(),
            trust: Some(trust),
        };
        (verifier, dir)
    }

    fn verify(
        verifier: &dyn ServerCertVerifier,
        der: &[u8],
        host: &str,
    ) -> std::result::Result<(), rustls::Error> {
        let name = ServerName::try_from(host.to_string()).expect("server name");
        verifier
            .verify_server_cert(
                &CertificateDer::from(der.to_vec()),
                &[],
                &name,
                &[],
                UnixTime::now(),
            )
            .map(|_| ())
    }

    fn is_name_error(result: std::result::Result<(), rustls::Error>) -> bool {
        matches!(
            result,
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
            ))
        )
    }

    #[test]
    fn verify_full_checks_chain_and_name() {
        let ca = certs::ca("test ca");
        let cert = certs::issued(
            &ca,
            "ignored-cn",
            &["db.test", "*.pool.test"],
            &["127.0.0.1"],
        );
        let (full, _dir) = trusted(&ca.pem, true);
        verify(&full, &cert, "db.test").expect("dns san");
        verify(&full, &cert, "DB.TEST").expect("case-insensitive");
        verify(&full, &cert, "a.pool.test").expect("wildcard");
        verify(&full, &cert, "127.0.0.1").expect("ip san");
        assert!(is_name_error(verify(&full, &cert, "other.test")));
        assert!(is_name_error(verify(&full, &cert, "ignored-cn")));
        assert!(is_name_error(verify(&full, &cert, "127.0.0.2")));
    }

    #[test]
    fn verify_ca_ignores_the_name_but_not_the_chain() {
        let ca = certs::ca("test ca");
        let cert = certs::issued(&ca, "db.test", &["db.test"], &[]);
        let (chain_only, _dir) = trusted(&ca.pem, false);
        verify(&chain_only, &cert, "anything.else").expect("name not checked");

        let stranger = certs::issued(&certs::ca("other ca"), "db.test", &["db.test"], &[]);
        let err = verify(&chain_only, &stranger, "db.test").expect_err("unknown issuer");
        assert!(
            matches!(
                err,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            ),
            "{err:?}"
        );
        let (full, _dir) = trusted(&ca.pem, true);
        verify(&full, &stranger, "db.test").expect_err("unknown issuer");
    }

    #[test]
    fn common_name_is_used_without_subject_alt_names() {
        let ca = certs::ca("test ca");
        let cert = certs::issued(&ca, "db.test", &[], &[]);
        let (full, _dir) = trusted(&ca.pem, true);
        verify(&full, &cert, "db.test").expect("cn");
        assert!(is_name_error(verify(&full, &cert, "other.test")));
    }

    #[test]
    fn self_signed_server_certificate_listed_as_root_is_trusted() {
        let (der, pem) = certs::self_signed_ca("db.test");
        let (chain_only, _dir) = trusted(&pem, false);
        verify(&chain_only, &der, "whatever").expect("pinned");
        let (full, _dir) = trusted(&pem, true);
        verify(&full, &der, "db.test").expect("pinned, cn matches");
        assert!(is_name_error(verify(&full, &der, "other.test")));

        // Not listed: rejected.
        let (other_der, _) = certs::self_signed_ca("db.test");
        verify(&chain_only, &other_der, "db.test").expect_err("not pinned");
    }

    #[test]
    fn require_without_roots_accepts_any_certificate() {
        let (der, _) = certs::self_signed_ca("db.test");
        let any = CertVerifier {
            provider: provider(),
            trust: None,
        };
        verify(&any, &der, "other.test").expect("no verification");
    }

    #[test]
    fn root_file_may_hold_several_certificates() {
        let first = certs::ca("first");
        let second = certs::ca("second");
        let cert = certs::issued(&second, "db.test", &["db.test"], &[]);
        let (full, _dir) = trusted(&format!("{}{}", first.pem, second.pem), true);
        verify(&full, &cert, "db.test").expect("second root");
    }

    #[test]
    fn handshake_errors_are_explained_in_libpq_terms() {
        let wrap = |e: rustls::CertificateError| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(e),
            )
        };
        assert_eq!(
            explain_handshake_error(&wrap(rustls::CertificateError::NotValidForName), "db.test"),
            "server certificate does not match host name \"db.test\""
        );
        assert_eq!(
            explain_handshake_error(&wrap(rustls::CertificateError::UnknownIssuer), "h"),
            "server certificate is not signed by a trusted root certificate"
        );
        assert!(
            explain_handshake_error(&wrap(rustls::CertificateError::BadSignature), "h")
                .starts_with("server certificate's signature does not verify")
        );
        let other = std::io::Error::other("connection reset");
        assert_eq!(explain_handshake_error(&other, "h"), "connection reset");
    }
}
