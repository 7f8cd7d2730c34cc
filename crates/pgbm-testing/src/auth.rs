//! Client authentication of test clusters: who may log in how.
//!
//! Every cluster's `pg_hba.conf` is:
//!
//! ```text
//! local      all  all                 trust           # Unix socket: anyone, no password
//! hostnossl  all  +pgbm_tls_only_users 127.0.0.1/32  reject  # these must use TLS
//! host       all  postgres            127.0.0.1/32  trust
//! host   all  +pgbm_md5_users   127.0.0.1/32  md5
//! host   all  all               127.0.0.1/32  scram-sha-256
//! ```
//!
//! So `postgres` needs no password anywhere, members of `pgbm_tls_only_users` are turned
//! away over TCP without TLS (on a cluster started with TLS they log in over TLS), and any other role connecting over TCP must
//! give its password: with md5 if it is a member of `pgbm_md5_users`, else with SCRAM.
//! [`crate::PgCluster::create_password_role`] makes such roles. Group membership rather
//! than fixed role names keeps roles unique per test on the shared cluster.

use std::fmt;

/// The group role whose members authenticate with md5 over TCP.
pub(crate) const MD5_GROUP: &str = "pgbm_md5_users";

/// The group role whose members pg_hba rejects over TCP without TLS: grant it to a
/// role to test clients that must fall back to TLS (`sslmode=allow`).
pub const TLS_ONLY_GROUP: &str = "pgbm_tls_only_users";

/// The `pg_hba.conf` every test cluster gets.
pub(crate) fn hba_conf() -> String {
    format!(
        "# Written by pgbm-testing: see crates/pgbm-testing/src/auth.rs\n\
         local all all trust\n\
         hostnossl all +{TLS_ONLY_GROUP} 127.0.0.1/32 reject\n\
         host all postgres 127.0.0.1/32 trust\n\
         host all +{MD5_GROUP} 127.0.0.1/32 md5\n\
         host all all 127.0.0.1/32 scram-sha-256\n"
    )
}

/// SQL run once when a cluster starts, to set up the roles the rules above name.
pub(crate) fn bootstrap_sql() -> String {
    format!("CREATE ROLE {MD5_GROUP} NOLOGIN; CREATE ROLE {TLS_ONLY_GROUP} NOLOGIN")
}

/// How a role made by [`crate::PgCluster::create_password_role`] must authenticate over TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordAuth {
    /// `scram-sha-256`: the password is stored as a SCRAM verifier.
    Scram,
    /// `md5`: the password is stored as an md5 hash and pg_hba asks for md5. Servers that
    /// deprecate md5 (18+) still accept it, with a warning in the server log.
    Md5,
}

impl PasswordAuth {
    /// The `password_encryption` setting that stores a password for this method; a SCRAM
    /// verifier cannot answer an md5 challenge, so md5 roles need md5 storage.
    fn password_encryption(self) -> &'static str {
        match self {
            PasswordAuth::Scram => "scram-sha-256",
            PasswordAuth::Md5 => "md5",
        }
    }
}

/// A login role with a password, made by [`crate::PgCluster::create_password_role`].
///
/// `Debug` does not print the password.
#[derive(Clone)]
pub struct PasswordRole {
    name: String,
    password: String,
    auth: PasswordAuth,
}

impl PasswordRole {
    pub(crate) fn new(name: String, password: String, auth: PasswordAuth) -> Self {
        Self {
            name,
            password,
            auth,
        }
    }

    /// The role name (a plain identifier, unique in the process).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The role's password (letters, digits and `-` only, so it needs no escaping).
    #[must_use]
    pub fn password(&self) -> &str {
        &self.password
    }

    /// How the role authenticates over TCP.
    #[must_use]
    pub fn auth(&self) -> PasswordAuth {
        self.auth
    }

    /// SQL that creates the role with its password stored for its method.
    ///
    /// The password is ours (no quotes in it), so inlining it as a literal is safe.
    pub(crate) fn create_sql(&self) -> String {
        let mut sql = format!(
            "SET password_encryption = '{}'; CREATE ROLE {} LOGIN PASSWORD '{}'",
            self.auth.password_encryption(),
            self.name,
            self.password
        );
        if self.auth == PasswordAuth::Md5 {
            sql.push_str(&format!(" IN ROLE {MD5_GROUP}"));
        }
        sql
    }
}

impl fmt::Debug for PasswordRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordRole")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("auth", &self.auth)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let role = PasswordRole::new("r".into(), "s3cret-pw".into(), PasswordAuth::Scram);
        let shown = format!("{role:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn md5_roles_join_the_md5_group_and_store_md5() {
        let sql = PasswordRole::new("r".into(), "p".into(), PasswordAuth::Md5).create_sql();
        assert!(sql.contains("password_encryption = 'md5'"), "{sql}");
        assert!(sql.ends_with(&format!("IN ROLE {MD5_GROUP}")), "{sql}");
        let sql = PasswordRole::new("r".into(), "p".into(), PasswordAuth::Scram).create_sql();
        assert!(!sql.contains(MD5_GROUP), "{sql}");
    }

    #[test]
    fn hba_puts_the_md5_rule_before_the_catch_all() {
        let hba = hba_conf();
        let md5 = hba.find("md5").unwrap();
        let scram = hba.find("scram-sha-256").unwrap();
        assert!(md5 < scram, "{hba}");
    }
}
