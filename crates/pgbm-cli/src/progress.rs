//! Progress bars on stderr for the long commands (backup, restore of a backup,
//! verify): bytes, rate, rows and tables, redrawn a few times a second from the core's
//! [`Progress`] counters.
//!
//! Drawn only when stderr is a terminal and `-q` was not given, so logs, pipes and
//! scripts never see them.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pgbm_core::backup::Progress;

use crate::printer::Printer;

/// How often the bar is redrawn from the counters.
const TICK: Duration = Duration::from_millis(150);

/// The bar when the total is known (restore, verify).
const BAR_TEMPLATE: &str =
    "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}";

/// The spinner when it is not (backup: the size is known at the end).
const SPINNER_TEMPLATE: &str = "{spinner} {prefix} {bytes} {binary_bytes_per_sec} {elapsed} {msg}";

/// A progress bar fed from counters; cleared when finished or dropped.
#[derive(Debug)]
pub struct ProgressDisplay {
    bar: Option<ProgressBar>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressDisplay {
    /// Starts a bar labelled `what` for `progress`, if the terminal and flags allow.
    pub fn start(printer: &Printer, what: &'static str, progress: Arc<Progress>) -> Self {
        if printer.is_quiet() || !std::io::stderr().is_terminal() {
            return ProgressDisplay {
                bar: None,
                task: None,
            };
        }
        // Styled while hidden, so the first frame drawn is already ours.
        let bar = ProgressBar::hidden();
        bar.set_prefix(what);
        bar.set_style(style(SPINNER_TEMPLATE));
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            let mut known_total = false;
            loop {
                let s = progress.snapshot();
                if s.total_bytes > 0 && !known_total {
                    known_total = true;
                    shown.set_length(s.total_bytes);
                    shown.set_style(style(BAR_TEMPLATE).progress_chars("=> "));
                }
                shown.set_position(s.bytes);
                shown.set_message(counts(s.rows, s.tables_done, s.tables_total));
                shown.tick();
                tokio::time::sleep(TICK).await;
            }
        });
        ProgressDisplay {
            bar: Some(bar),
            task: Some(task),
        }
    }

    /// Stops redrawing and removes the bar.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `12345 rows, 3/8 tables done`.
fn counts(rows: u64, done: u64, total: u64) -> String {
    let tables = if total > 0 {
        format!("{done}/{total} tables")
    } else {
        format!("{done} tables")
    };
    format!("{rows} rows, {tables} done")
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_well() {
        assert_eq!(counts(10, 1, 4), "10 rows, 1/4 tables done");
        assert_eq!(counts(0, 2, 0), "0 rows, 2 tables done");
    }

    #[test]
    fn templates_parse() {
        // `style` falls back quietly on a bad template; the tests must not.
        assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
        assert!(ProgressStyle::with_template(SPINNER_TEMPLATE).is_ok());
    }
}
