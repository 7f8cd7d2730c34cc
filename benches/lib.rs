//! Helpers of pgbm's benchmarks (the benchmarks themselves are the `[[bench]]` targets
//! beside this file; see `README.md`).
//!
//! Only pure functions live here, so that they can be unit-tested: the SQL that builds a
//! benchmark database, and the statistics printed at the end.

use std::time::Duration;

/// The SQL creating tables `start..end` of a many-tables database of `total` tables.
///
/// Table `i` (`public.t{i}`) has a primary key, a unique and a check constraint, a
/// secondary index, a foreign key to table `i - 1` (table 0 to itself), a comment and
/// three rows. Tables must be created in order: each one's rows refer to the previous
/// table's.
#[must_use]
pub fn many_tables_sql(start: usize, end: usize) -> String {
    let mut sql = String::with_capacity((end - start) * 600);
    for i in start..end {
        let parent = i.saturating_sub(1);
        sql.push_str(&format!(
            "CREATE TABLE public.t{i} (\
               id integer PRIMARY KEY, \
               code text NOT NULL UNIQUE, \
               qty integer NOT NULL CHECK (qty >= 0), \
               parent_id integer REFERENCES public.t{parent} (id), \
               note text);\n\
             CREATE INDEX t{i}_qty_idx ON public.t{i} (qty);\n\
             COMMENT ON TABLE public.t{i} IS 'benchmark table {i}';\n\
             INSERT INTO public.t{i} \
               SELECT g, 'c' || g, g * 10, g, 'row ' || g FROM generate_series(1, 3) g;\n"
        ));
    }
    sql
}

/// The median of `samples` (the mean of the middle two for an even count).
///
/// # Panics
/// When `samples` is empty.
#[must_use]
pub fn median(samples: &[Duration]) -> Duration {
    assert!(!samples.is_empty(), "the median of no samples");
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// Seconds with millisecond precision, e.g. `1.234 s`.
#[must_use]
pub fn seconds(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// A list of samples, e.g. `[1.234, 1.300] s`.
#[must_use]
pub fn samples(ds: &[Duration]) -> String {
    let parts: Vec<String> = ds
        .iter()
        .map(|d| format!("{:.3}", d.as_secs_f64()))
        .collect();
    format!("[{}] s", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(30), ms(10), ms(20)]), ms(20));
        assert_eq!(median(&[ms(40), ms(10), ms(20), ms(30)]), ms(25));
    }

    #[test]
    fn first_table_refers_to_itself_the_others_to_their_predecessor() {
        let sql = many_tables_sql(0, 2);
        assert!(sql.contains("CREATE TABLE public.t0 ("));
        assert!(sql.contains("REFERENCES public.t0 (id)"));
        assert!(sql.contains("CREATE TABLE public.t1 ("));
        assert!(!sql.contains("REFERENCES public.t1 (id)"));
        assert_eq!(sql.matches("CREATE TABLE").count(), 2);
        assert_eq!(sql.matches("CREATE INDEX").count(), 2);
    }

    #[test]
    fn samples_are_listed_in_seconds() {
        let ms = Duration::from_millis;
        assert_eq!(samples(&[ms(1234), ms(5)]), "[1.234, 0.005] s");
        assert_eq!(seconds(ms(1500)), "1.500 s");
    }
}
