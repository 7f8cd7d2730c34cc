//! scratch
use pgbm_core::{ConnOptions, DumpOptions};
#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let conn = ConnOptions::parse(&args[1]).unwrap();
    let mut o = DumpOptions::default();
    for a in &args[2..] {
        match a.as_str() {
            "-c" => o.clean = true,
            "--if-exists" => o.if_exists = true,
            "-C" => o.create = true,
            "-s" => o.schema_only = true,
            "-a" => o.data_only = true,
            "-O" => o.no_owner = true,
            "-x" => o.no_privileges = true,
            _ => panic!("{a}"),
        }
    }
    if let Err(e) = pgbm_core::dump(&conn, &o, tokio::io::stdout()).await {
        eprintln!("ERR {e}");
        std::process::exit(1)
    }
}
