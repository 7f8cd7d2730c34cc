//! scratch
use pgbm_core::{ConnOptions, DumpOptions};
#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let conn = ConnOptions::parse(&args[1]).unwrap();
    let mut o = DumpOptions::default();
    let mut it = args[2..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-n" => o.schemas.push(it.next().unwrap().clone()),
            "-N" => o.exclude_schemas.push(it.next().unwrap().clone()),
            "-t" => o.tables.push(it.next().unwrap().clone()),
            "-T" => o.exclude_tables.push(it.next().unwrap().clone()),
            "--exclude-table-data" => o.exclude_table_data.push(it.next().unwrap().clone()),
            "--no-comments" => o.no_comments = true,
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
