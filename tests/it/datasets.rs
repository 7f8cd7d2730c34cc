//! The public sample databases of `tests/datasets/` (pagila and northwind), written by
//! others, on every server, as the fixture corpus is tested:
//!
//! - `datasets::roundtrip::SERVER::DATASET`: pgbm's dump restores, with pgbm and with
//!   psql, into a database whose schema and data (as the judge pg_dump prints them) equal
//!   the source's ([`round_trip_of`]), on 13-18 and Debian's 15;
//! - `datasets::oracle::SERVER::DATASET`: pgbm's dump is line for line pg_dump's of the
//!   server's major ([`check_source`]), on 14-18 and Debian's 15 (13 has no pg_dump here).
//!
//! The datasets are loaded once per server with psql, as their authors load them
//! ([`Source::dataset`]).

use crate::oracle::check_source;
use crate::roundtrip::round_trip_of;
use crate::support::datasets::{NORTHWIND, PAGILA};
use crate::support::{Server, Source};

/// Defines one `#[tokio::test]` per dataset, each calling `$run(dataset).await`.
macro_rules! dataset_tests {
    ($run:path) => {
        #[tokio::test]
        async fn pagila() {
            $run($crate::support::datasets::PAGILA).await;
        }

        #[tokio::test]
        async fn northwind() {
            $run($crate::support::datasets::NORTHWIND).await;
        }
    };
}

mod roundtrip {
    per_every_server! {
        async fn run(dataset: &str) {
            super::super::round_trip(SERVER, dataset).await;
        }

        dataset_tests!(run);
    }
}

mod oracle {
    per_oracle_server! {
        async fn run(dataset: &str) {
            super::super::same_as_pg_dump(SERVER, dataset).await;
        }

        dataset_tests!(run);
    }
}

/// Round trip of `dataset` on `server` ([`round_trip_of`]).
async fn round_trip(server: Server, dataset: &str) {
    round_trip_of(Source::dataset(server, dataset).await, dataset).await;
}

/// pgbm's default dump of `dataset` on `server` against pg_dump's ([`check_source`]).
async fn same_as_pg_dump(server: Server, dataset: &str) {
    let name = format!("dataset {dataset}");
    check_source(Source::dataset(server, dataset).await, &name, &[], |_| {}).await;
}

/// The datasets are what their README says, and both load: a renamed or lost file
/// fails here with the path rather than deep inside a server test.
#[test]
fn datasets_are_in_the_repository() {
    for (name, files) in [
        (
            PAGILA,
            &["LICENSE.txt", "pagila-schema.sql", "pagila-data.sql"][..],
        ),
        (NORTHWIND, &["LICENSE", "northwind.sql"][..]),
    ] {
        for file in files {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("datasets")
                .join(name)
                .join(file);
            assert!(path.is_file(), "{} is missing", path.display());
        }
    }
}
