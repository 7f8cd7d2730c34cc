//! Parallel batches of post-data entries (indexes, constraints, foreign keys) on a few
//! sessions kept open for the whole batch.
//!
//! One session per worker rather than per entry: a database with thousands of tables
//! has thousands of such entries, and a connection costs more than most of them.
//!
//! Adding a foreign key locks both of its tables, so two keys between the same tables
//! added at once can deadlock. Like pg_restore, the scheduler never starts an entry
//! while a running one holds a lock it needs: each foreign key names its two tables,
//! and one whose tables cannot be read from its text runs alone.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use futures_util::future::try_join_all;
use tokio::sync::Notify;

use super::executor::Executor;
use super::{RestoreOptions, RestoreSummary};
use crate::conn::ConnOptions;
use crate::error::{Error, Result};
use crate::script::ScriptReader;

/// One entry of a batch: its text, a name for errors, and the tables it locks.
#[derive(Debug, Clone)]
pub(super) struct BatchEntry<'a> {
    /// The entry's SQL.
    pub text: &'a str,
    /// `desc tag`, for errors.
    pub what: String,
    /// What the entry locks in a way that conflicts with other entries of the batch.
    pub locks: Locks,
}

/// The locks an entry takes that other entries of its batch may need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Locks {
    /// Nothing another entry of the batch could wait for in a cycle.
    None,
    /// These tables (qualified names as written in the dump).
    Tables(Vec<String>),
    /// Unknown: the entry runs alone.
    All,
}

impl Locks {
    /// The locks of a `FK CONSTRAINT` entry: its table and the referenced one.
    pub fn of_foreign_key(text: &str) -> Locks {
        match foreign_key_tables(text) {
            Some(tables) => Locks::Tables(tables.to_vec()),
            None => Locks::All,
        }
    }
}

/// Which entries are waiting and which locks the running ones hold.
struct Schedule<'a> {
    pending: VecDeque<BatchEntry<'a>>,
    held: HashSet<String>,
    running: usize,
    running_all: bool,
}

impl<'a> Schedule<'a> {
    /// Takes the first pending entry that can start now, marking its locks held.
    fn take(&mut self) -> Option<BatchEntry<'a>> {
        if self.running_all {
            return None;
        }
        let pos = self.pending.iter().position(|e| match &e.locks {
            Locks::None => true,
            Locks::Tables(t) => t.iter().all(|t| !self.held.contains(t)),
            Locks::All => self.running == 0,
        })?;
        let entry = self.pending.remove(pos)?;
        match &entry.locks {
            Locks::None => {}
            Locks::Tables(t) => self.held.extend(t.iter().cloned()),
            Locks::All => self.running_all = true,
        }
        self.running += 1;
        Some(entry)
    }

    fn release(&mut self, entry: &BatchEntry<'_>) {
        match &entry.locks {
            Locks::None => {}
            Locks::Tables(t) => t.iter().for_each(|t| {
                self.held.remove(t);
            }),
            Locks::All => self.running_all = false,
        }
        self.running -= 1;
    }
}

/// Runs `entries` on up to `jobs` sessions, each of which first runs `preamble` (the
/// dump's session settings). Stops at the first error.
pub(super) async fn run_batch(
    session: &ConnOptions,
    opts: &RestoreOptions,
    preamble: &str,
    entries: Vec<BatchEntry<'_>>,
    jobs: usize,
) -> Result<RestoreSummary> {
    let workers = jobs.clamp(1, entries.len().max(1));
    let schedule = Mutex::new(Schedule {
        pending: entries.into(),
        held: HashSet::new(),
        running: 0,
        running_all: false,
    });
    let changed = Notify::new();
    let done =
        try_join_all((0..workers).map(|_| worker(session, opts, preamble, &schedule, &changed)))
            .await?;
    let mut total = RestoreSummary::default();
    for s in done {
        total.statements += s.statements;
        total.copies += s.copies;
        total.copy_bytes += s.copy_bytes;
        total.copy_rows += s.copy_rows;
    }
    Ok(total)
}

/// One session: takes entries until none is left.
async fn worker(
    session: &ConnOptions,
    opts: &RestoreOptions,
    preamble: &str,
    schedule: &Mutex<Schedule<'_>>,
    changed: &Notify,
) -> Result<RestoreSummary> {
    let mut executor: Option<Executor> = None;
    while let Some(entry) = next_entry(schedule, changed).await {
        let result = run_entry(&mut executor, session, opts, preamble, &entry).await;
        lock(schedule).release(&entry);
        changed.notify_waiters();
        if let Err(e) = result {
            if let Some(ex) = &executor {
                ex.abort().await;
            }
            return Err(e);
        }
    }
    match executor {
        Some(ex) => ex.finish(0).await,
        None => Ok(RestoreSummary::default()),
    }
}

/// The next entry this worker may run, waiting while every pending one is blocked by
/// a running one; `None` when nothing is pending.
async fn next_entry<'a>(
    schedule: &Mutex<Schedule<'a>>,
    changed: &Notify,
) -> Option<BatchEntry<'a>> {
    loop {
        // Created before looking, so a release in between still wakes us.
        let notified = changed.notified();
        {
            let mut s = lock(schedule);
            if let Some(entry) = s.take() {
                return Some(entry);
            }
            if s.pending.is_empty() {
                return None;
            }
        }
        notified.await;
    }
}

async fn run_entry(
    executor: &mut Option<Executor>,
    session: &ConnOptions,
    opts: &RestoreOptions,
    preamble: &str,
    entry: &BatchEntry<'_>,
) -> Result<()> {
    let ex = Executor::reuse_or_connect(executor, session, opts, preamble).await?;
    ex.run(&mut ScriptReader::new(entry.text.as_bytes()))
        .await
        .map_err(|e| Error::new(e.kind(), format!("{}: {e}", entry.what)))
}

fn lock<'m, 'a>(schedule: &'m Mutex<Schedule<'a>>) -> std::sync::MutexGuard<'m, Schedule<'a>> {
    schedule
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The table and the referenced table of a foreign key entry as pg_dump writes it:
/// `ALTER TABLE [ONLY] t ADD CONSTRAINT c FOREIGN KEY (cols) REFERENCES r(cols) ...`,
/// names normalized to their unquoted form. `None` if the text has another shape.
pub(super) fn foreign_key_tables(text: &str) -> Option<[String; 2]> {
    let start = text
        .lines()
        .find(|l| l.starts_with("ALTER TABLE "))
        .map(|l| l.as_ptr() as usize - text.as_ptr() as usize)?;
    let mut s = Scanner(&text[start + "ALTER TABLE ".len()..]);
    s.keyword("ONLY");
    let table = s.qualified_name()?;
    s.expect_keyword("ADD")?;
    s.expect_keyword("CONSTRAINT")?;
    s.qualified_name()?;
    s.expect_keyword("FOREIGN")?;
    s.expect_keyword("KEY")?;
    s.parenthesized()?;
    s.expect_keyword("REFERENCES")?;
    let referenced = s.qualified_name()?;
    Some([table, referenced])
}

/// A cursor over SQL text that reads identifiers the way the server does.
struct Scanner<'t>(&'t str);

impl Scanner<'_> {
    fn skip_space(&mut self) {
        self.0 = self.0.trim_start();
    }

    /// Consumes `word` (case-insensitively) if it comes next as a whole word.
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        let n = word.len();
        let matches = self.0.len() >= n
            && self.0[..n].eq_ignore_ascii_case(word)
            && !self.0[n..].starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$');
        if matches {
            self.0 = &self.0[n..];
        }
        matches
    }

    fn expect_keyword(&mut self, word: &str) -> Option<()> {
        self.keyword(word).then_some(())
    }

    /// `ident(.ident)*`, each part unquoted (`"a""b"` is `a"b`; bare names as written,
    /// which pg_dump only leaves bare when they are lower case).
    fn qualified_name(&mut self) -> Option<String> {
        self.skip_space();
        let mut name = self.ident()?;
        while let Some(rest) = self.0.strip_prefix('.') {
            self.0 = rest;
            name.push('.');
            name.push_str(&self.ident()?);
        }
        Some(name)
    }

    fn ident(&mut self) -> Option<String> {
        if let Some(rest) = self.0.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = rest.char_indices();
            while let Some((i, c)) = chars.next() {
                if c != '"' {
                    out.push(c);
                } else if rest[i + 1..].starts_with('"') {
                    out.push('"');
                    chars.next();
                } else {
                    self.0 = &rest[i + 1..];
                    return Some(out);
                }
            }
            return None;
        }
        let end = self
            .0
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(self.0.len());
        let (word, rest) = self.0.split_at(end);
        self.0 = rest;
        (!word.is_empty()).then(|| word.to_string())
    }

    /// A parenthesized list of identifiers, skipped (quotes may hold parentheses).
    fn parenthesized(&mut self) -> Option<()> {
        self.skip_space();
        self.0 = self.0.strip_prefix('(')?;
        loop {
            self.skip_space();
            if let Some(rest) = self.0.strip_prefix(')') {
                self.0 = rest;
                return Some(());
            }
            if let Some(rest) = self.0.strip_prefix(',') {
                self.0 = rest;
                continue;
            }
            self.ident()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, locks: Locks) -> BatchEntry<'static> {
        BatchEntry {
            text: "",
            what: name.to_string(),
            locks,
        }
    }

    fn tables(t: &[&str]) -> Locks {
        Locks::Tables(t.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn foreign_keys_name_both_tables() {
        let text = "--\n-- Name: a a_b_fkey; Type: FK CONSTRAINT; Schema: public; Owner: x\n--\n\n\
                    ALTER TABLE ONLY public.a\n    ADD CONSTRAINT a_b_fkey FOREIGN KEY (b, c) \
                    REFERENCES public.b(id, c) ON DELETE CASCADE;\n";
        assert_eq!(
            foreign_key_tables(text),
            Some(["public.a".to_string(), "public.b".to_string()])
        );
        let quoted = "ALTER TABLE \"My Schema\".\"t.1\"\n    ADD CONSTRAINT \"fk (x)\" \
                      FOREIGN KEY (\"col) REFERENCES\", \"a\"\"b\") \
                      REFERENCES \"Other\".\"R\"\"q\"(id) NOT VALID;\n";
        assert_eq!(
            foreign_key_tables(quoted),
            Some(["My Schema.t.1".to_string(), "Other.R\"q".to_string()])
        );
        assert_eq!(
            foreign_key_tables("ALTER TABLE ONLY public.a ENABLE TRIGGER x;"),
            None
        );
        assert_eq!(Locks::of_foreign_key("SELECT 1;"), Locks::All);
    }

    #[test]
    fn entries_sharing_a_table_never_run_together() {
        let mut s = Schedule {
            pending: vec![
                entry("ab", tables(&["a", "b"])),
                entry("ba", tables(&["b", "a"])),
                entry("cd", tables(&["c", "d"])),
                entry("idx", Locks::None),
            ]
            .into(),
            held: HashSet::new(),
            running: 0,
            running_all: false,
        };
        let ab = s.take().unwrap();
        assert_eq!(ab.what, "ab");
        // "ba" waits for "ab"; the others may start.
        assert_eq!(s.take().unwrap().what, "cd");
        assert_eq!(s.take().unwrap().what, "idx");
        assert!(s.take().is_none());
        s.release(&ab);
        assert_eq!(s.take().unwrap().what, "ba");
    }

    #[test]
    fn an_entry_of_unknown_locks_runs_alone() {
        let mut s = Schedule {
            pending: vec![
                entry("x", tables(&["x"])),
                entry("unknown", Locks::All),
                entry("y", tables(&["y"])),
            ]
            .into(),
            held: HashSet::new(),
            running: 0,
            running_all: false,
        };
        let x = s.take().unwrap();
        // "unknown" waits for "x" to finish; "y" may pass it meanwhile.
        let y = s.take().unwrap();
        assert_eq!(y.what, "y");
        assert!(s.take().is_none());
        s.release(&x);
        assert!(s.take().is_none(), "y still runs");
        s.release(&y);
        let unknown = s.take().unwrap();
        assert_eq!(unknown.what, "unknown");
        s.release(&unknown);
        assert!(s.take().is_none() && s.pending.is_empty());
    }
}
