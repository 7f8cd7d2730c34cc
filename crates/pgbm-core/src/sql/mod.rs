//! SQL text exactly as pg_dump 15 writes it: quoting of identifiers and literals,
//! dollar quoting of function bodies, and GRANT/REVOKE commands for ACLs.
//!
//! pgbm compares its dumps with pg_dump's line by line, so every routine here
//! reproduces pg_dump 15's output byte for byte (with `quote_all_identifiers` off,
//! `standard_conforming_strings` on and no binary-upgrade mode). The golden cases in
//! the unit tests were taken from real pg_dump 15.18 runs.
//!
//! * [`quote_ident`], [`qualified`]: identifiers (`fmtId`, `fmtQualifiedId`), using the
//!   PostgreSQL 15 keyword list in [`keywords`].
//! * [`quote_literal`], [`quote_literal_conn`]: string literals.
//! * [`dollar_quote`]: `$$…$$` bodies (`appendStringLiteralDQ`).
//! * [`build_acl_commands`], [`build_default_acl_commands`]: ACLs (`buildACLCommands`,
//!   `buildDefaultACLCommands`).

mod acl;
pub mod keywords;
mod quote;

pub use acl::{build_acl_commands, build_default_acl_commands, AclTarget};
pub use quote::{dollar_quote, qualified, quote_ident, quote_literal, quote_literal_conn};
