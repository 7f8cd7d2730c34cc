//! Example: dump one database into another with pgbm-core, streaming.

fn main() {}
