//! The `pgbm` command.

fn main() {
    println!("pgbm");
}
