//! TLS clusters: the CA verifies the server for `localhost`, not for `127.0.0.1`.

use std::sync::Arc;

use pgbm_testing::PgCluster;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// A rustls connector that trusts only `ca_pem`.
fn connector(ca_pem: &str) -> MakeRustlsConnect {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    MakeRustlsConnect::new(config)
}

/// Connects with TLS required to `host`; returns whether the session uses TLS.
async fn connect(cluster: &PgCluster, host: &str) -> Result<bool, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(host)
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres")
        .ssl_mode(SslMode::Require);
    let tls = connector(cluster.ca_cert_pem().expect("TLS cluster"));
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

#[tokio::test]
async fn tls_cluster_serves_a_certificate_for_localhost_only() {
    let cluster = PgCluster::start_with_tls();
    let ca_path = cluster.ca_cert_path().expect("CA file");
    assert_eq!(
        std::fs::read_to_string(ca_path).unwrap(),
        cluster.ca_cert_pem().unwrap()
    );
    assert_eq!(cluster.tls_server_name(), Some("localhost"));

    assert!(
        connect(&cluster, "localhost").await.unwrap(),
        "session is not encrypted"
    );
    let err = connect(&cluster, "127.0.0.1")
        .await
        .expect_err("IP is not in the cert");
    assert!(format!("{err:?}").contains("NotValidForName"), "{err:?}");
}

#[test]
fn plain_clusters_have_no_tls() {
    let cluster = PgCluster::shared();
    assert!(cluster.ca_cert_path().is_none());
    assert!(cluster.tls_server_name().is_none());
}
