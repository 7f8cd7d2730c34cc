//! Test harness: throwaway PostgreSQL clusters started from local binaries.
//!
//! SKELETON: being written.
