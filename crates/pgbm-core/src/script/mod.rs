//! Parser for plain-format SQL scripts (pg_dump's, pgbm's).
//!
//! SKELETON: the parser is being written.
