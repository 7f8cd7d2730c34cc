//! Host name checking for `sslmode=verify-full`, with libpq's rules rather than the
//! stricter web rules of webpki.
//!
//! libpq (`pgtls_verify_peer_name_matches_certificate_guts`) compares the host with
//! every subjectAltName entry: `dNSName` entries as names (case-insensitive, `*` allowed
//! as the whole leftmost label) and `iPAddress` entries as addresses when the host is an
//! IP address. Only if the certificate has no subjectAltName entry of the host's type
//! (DNS name or IP address) is the subject's Common Name compared instead. Certificates
//! made with the recipe in PostgreSQL's documentation carry only a Common Name, and
//! webpki would reject them.

use std::net::IpAddr;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, Error};
use x509_cert::der::asn1::{Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
use x509_cert::der::oid::db::rfc4519::COMMON_NAME;
use x509_cert::der::{Decode, Tag, Tagged};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

/// The names a certificate claims, as far as host name checking cares.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CertNames {
    /// subjectAltName `dNSName` entries.
    pub dns: Vec<String>,
    /// subjectAltName `iPAddress` entries.
    pub ips: Vec<IpAddr>,
    /// Common Names of the subject.
    pub common_names: Vec<String>,
}

/// Checks that `cert` is valid for `server_name`, the way libpq does.
pub(crate) fn check(cert: &CertificateDer<'_>, server_name: &ServerName<'_>) -> Result<(), Error> {
    let names = names_of(cert)?;
    let host = match server_name {
        ServerName::DnsName(dns) => Host::Name(dns.as_ref().to_string()),
        ServerName::IpAddress(ip) => Host::Ip(IpAddr::from(*ip)),
        _ => return Err(Error::InvalidCertificate(CertificateError::NotValidForName)),
    };
    if matches(&names, &host) {
        Ok(())
    } else {
        Err(Error::InvalidCertificate(CertificateError::NotValidForName))
    }
}

/// The host a connection was made to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    /// A DNS name.
    Name(String),
    /// An IP address literal.
    Ip(IpAddr),
}

impl Host {
    fn text(&self) -> String {
        match self {
            Host::Name(n) => n.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }
}

/// libpq's decision, on names already extracted from the certificate.
pub(crate) fn matches(names: &CertNames, host: &Host) -> bool {
    let text = host.text();
    if names.dns.iter().any(|pattern| name_matches(pattern, &text)) {
        return true;
    }
    if let Host::Ip(ip) = host {
        if names.ips.contains(ip) {
            return true;
        }
    }
    let has_san_of_host_type = match host {
        Host::Name(_) => !names.dns.is_empty(),
        Host::Ip(_) => !names.ips.is_empty(),
    };
    !has_san_of_host_type && names.common_names.iter().any(|cn| name_matches(cn, &text))
}

/// Case-insensitive comparison; a leading `*.` matches exactly one label.
fn name_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) if suffix.starts_with('.') => {
            let Some(label_len) = host.len().checked_sub(suffix.len()) else {
                return false;
            };
            label_len > 0
                && host.is_char_boundary(label_len)
                && host[label_len..].eq_ignore_ascii_case(suffix)
                && !host[..label_len].contains('.')
        }
        _ => pattern.eq_ignore_ascii_case(host),
    }
}

/// Extracts subjectAltName entries and Common Names from a DER certificate.
pub(crate) fn names_of(cert: &CertificateDer<'_>) -> Result<CertNames, Error> {
    let bad = || Error::InvalidCertificate(CertificateError::BadEncoding);
    let cert = Certificate::from_der(cert.as_ref()).map_err(|_| bad())?;
    let tbs = &cert.tbs_certificate;
    let mut names = CertNames::default();
    if let Some((_, san)) = tbs.get::<SubjectAltName>().map_err(|_| bad())? {
        for general in san.0 {
            match general {
                GeneralName::DnsName(dns) => names.dns.push(dns.to_string()),
                GeneralName::IpAddress(octets) => {
                    if let Some(ip) = ip_from_octets(octets.as_bytes()) {
                        names.ips.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
    for rdn in tbs.subject.0.iter() {
        for atv in rdn.0.iter().filter(|atv| atv.oid == COMMON_NAME) {
            if let Some(cn) = directory_string(&atv.value) {
                names.common_names.push(cn);
            }
        }
    }
    Ok(names)
}

fn ip_from_octets(octets: &[u8]) -> Option<IpAddr> {
    match octets.len() {
        4 => <[u8; 4]>::try_from(octets).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(octets).ok().map(IpAddr::from),
        _ => None,
    }
}

fn directory_string(value: &x509_cert::der::Any) -> Option<String> {
    let text = match value.tag() {
        Tag::Utf8String => Utf8StringRef::try_from(value).ok()?.as_str().to_string(),
        Tag::PrintableString => PrintableStringRef::try_from(value)
            .ok()?
            .as_str()
            .to_string(),
        Tag::Ia5String => Ia5StringRef::try_from(value).ok()?.as_str().to_string(),
        Tag::TeletexString => TeletexStringRef::try_from(value).ok()?.as_str().to_string(),
        _ => return None,
    };
    // libpq rejects names with embedded NULs, which could fool a C string comparison.
    (!text.contains('\0')).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dns: &[&str], ips: &[&str], cns: &[&str]) -> CertNames {
        CertNames {
            dns: dns.iter().map(|s| s.to_string()).collect(),
            ips: ips.iter().map(|s| s.parse().expect("ip")).collect(),
            common_names: cns.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn name(h: &str) -> Host {
        Host::Name(h.to_string())
    }

    fn ip(h: &str) -> Host {
        Host::Ip(h.parse().expect("ip"))
    }

    #[test]
    fn dns_names_match_case_insensitively() {
        let n = names(&["db.example.com"], &[], &[]);
        assert!(matches(&n, &name("db.example.com")));
        assert!(matches(&n, &name("DB.Example.COM")));
        assert!(!matches(&n, &name("db2.example.com")));
    }

    #[test]
    fn wildcard_matches_one_label() {
        let n = names(&["*.example.com"], &[], &[]);
        assert!(matches(&n, &name("db.example.com")));
        assert!(!matches(&n, &name("a.b.example.com")));
        assert!(!matches(&n, &name("example.com")));
        assert!(!matches(&n, &name(".example.com")));
        // '*' anywhere else is literal.
        assert!(!matches(
            &names(&["d*.example.com"], &[], &[]),
            &name("db.example.com")
        ));
    }

    #[test]
    fn common_name_only_without_san_of_the_host_type() {
        let cn_only = names(&[], &[], &["db.example.com"]);
        assert!(matches(&cn_only, &name("db.example.com")));
        assert!(!matches(&cn_only, &name("other.example.com")));

        // A dNSName entry hides the CN for host names...
        let both = names(&["other.example.com"], &[], &["db.example.com"]);
        assert!(!matches(&both, &name("db.example.com")));
        // ...but not for IP hosts, as libpq does.
        let ip_cn = names(&["db.example.com"], &[], &["127.0.0.1"]);
        assert!(matches(&ip_cn, &ip("127.0.0.1")));
    }

    #[test]
    fn ip_addresses() {
        let n = names(&[], &["127.0.0.1", "::1"], &["127.0.0.2"]);
        assert!(matches(&n, &ip("127.0.0.1")));
        assert!(matches(&n, &ip("::1")));
        // An iPAddress entry hides the CN for IP hosts.
        assert!(!matches(&n, &ip("127.0.0.2")));
        // A dNSName holding the address text matches too (libpq compares strings).
        assert!(matches(&names(&["10.0.0.1"], &[], &[]), &ip("10.0.0.1")));
    }
}
