//! Password roles: SCRAM, md5, wrong passwords.

use pgbm_testing::{PasswordAuth, PgCluster, TestDb};

/// Connects over TCP as `user` with `password`; `Err` holds the SQLSTATE (or the error).
async fn connect_tcp(db: &TestDb, user: &str, password: Option<&str>) -> Result<(), String> {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(db.port())
        .user(user)
        .dbname(db.name());
    if let Some(pw) = password {
        config.password(pw);
    }
    match config.connect(tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
                .simple_query("SELECT 1")
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e
            .code()
            .map_or_else(|| e.to_string(), |c| c.code().to_string())),
    }
}

/// How the role's password is stored (`SCRAM-SHA-256$...` or `md5...`).
async fn stored_password(db: &TestDb, role: &str) -> String {
    db.client()
        .await
        .query_one(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
            &[&role],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn scram_role_needs_its_password() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_db("scram");
    let role = cluster.create_password_role("scram_user", PasswordAuth::Scram);
    assert!(stored_password(&db, role.name())
        .await
        .starts_with("SCRAM-SHA-256$"));
    connect_tcp(&db, role.name(), Some(role.password()))
        .await
        .unwrap();
    assert_eq!(
        connect_tcp(&db, role.name(), Some("wrong")).await,
        Err("28P01".into())
    );
}

#[tokio::test]
async fn md5_role_needs_its_password() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_db("md5");
    let role = cluster.create_password_role("md5_user", PasswordAuth::Md5);
    assert!(stored_password(&db, role.name()).await.starts_with("md5"));
    connect_tcp(&db, role.name(), Some(role.password()))
        .await
        .unwrap();
    assert_eq!(
        connect_tcp(&db, role.name(), Some("wrong")).await,
        Err("28P01".into())
    );
}

#[tokio::test]
async fn postgres_is_trusted_over_tcp_and_password_roles_are_unique() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_db("trust");
    connect_tcp(&db, "postgres", None).await.unwrap();
    let a = cluster.create_password_role("same", PasswordAuth::Scram);
    let b = cluster.create_password_role("same", PasswordAuth::Scram);
    assert_ne!(a.name(), b.name());
    assert_ne!(a.password(), b.password());
    assert!(!format!("{a:?}").contains(a.password()));
}
