//! Progress of the admin commands that can run for minutes (`migrate-store`, `blobs
//! collect`), on standard error: standard output keeps only what scripts read, the final
//! counts. On a terminal each stage is a bar (indicatif) that redraws itself in place.
//! Elsewhere (a log file, CI, a pipe) a redrawn bar would be noise, so each stage writes
//! plain lines: one when it begins, one when it ends, and one in between every
//! [`EVERY`] or at each tenth of a known total, whichever comes first:
//!
//! ```text
//! migrate-store: blobs 0/10000 (0 B of 9.77 MiB) 0.0 s
//! migrate-store: blobs 1000/10000 (1000.00 KiB of 9.77 MiB) 1.2 s
//! ...
//! migrate-store: blobs 10000/10000 (9.77 MiB of 9.77 MiB) done in 11.8 s
//! ```

use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use cells_service::progress::{Progress, Stage};
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The longest a stage goes without a line, when standard error is not a terminal.
const EVERY: Duration = Duration::from_secs(2);

/// Draws the progress of one command on standard error.
pub struct Reporter {
    /// The command, as the lines start: `migrate-store`, `blobs collect`.
    command: &'static str,
    terminal: bool,
    current: Mutex<Option<Current>>,
}

/// The stage under way.
struct Current {
    stage: Stage,
    items: u64,
    bytes: u64,
    started: Instant,
    pace: Pace,
    /// On a terminal.
    bar: Option<ProgressBar>,
}

impl Reporter {
    /// A bar when standard error is a terminal, lines otherwise.
    pub fn new(command: &'static str) -> Self {
        Self { command, terminal: std::io::stderr().is_terminal(), current: Mutex::new(None) }
    }

    fn bar(&self, stage: &Stage) -> ProgressBar {
        let (bar, template) = match stage.items {
            Some(items) => (
                ProgressBar::with_draw_target(Some(items), ProgressDrawTarget::stderr()),
                "{prefix} [{bar:30}] {pos}/{len} {msg} {elapsed}",
            ),
            None => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                // Nothing may move for a while (a listing, a pause): the spinner says the
                // command is alive.
                bar.enable_steady_tick(Duration::from_millis(200));
                (bar, "{prefix} {spinner} {pos} {msg} {elapsed}")
            }
        };
        let style = ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> ").tick_chars("|/-\\ "));
        bar.set_prefix(format!("{}: {}", self.command, stage.name));
        bar.set_message(bytes_text(stage, 0));
        bar
    }

    fn finish(&self, current: Current) {
        match current.bar {
            Some(bar) => {
                bar.set_message(bytes_text(&current.stage, current.bytes));
                bar.finish();
            }
            None => eprintln!("{}", line(self.command, &current, current.started.elapsed(), true)),
        }
    }
}

impl Progress for Reporter {
    fn begin(&self, stage: Stage) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(previous) = current.take() {
            self.finish(previous);
        }
        let now = Instant::now();
        let bar = self.terminal.then(|| self.bar(&stage));
        let begun = Current { stage, items: 0, bytes: 0, started: now, pace: Pace::new(now), bar };
        if begun.bar.is_none() {
            eprintln!("{}", line(self.command, &begun, Duration::ZERO, false));
        }
        *current = Some(begun);
    }

    fn advance(&self, items: u64, bytes: u64) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(current) = current.as_mut() else { return };
        current.items += items;
        current.bytes += bytes;
        match &current.bar {
            Some(bar) => {
                // A total counted beforehand can be passed (garbage recorded meanwhile).
                if bar.length().is_some_and(|len| current.items > len) {
                    bar.set_length(current.items);
                }
                bar.set_position(current.items);
                if bytes > 0 {
                    bar.set_message(bytes_text(&current.stage, current.bytes));
                }
            }
            None => {
                let now = Instant::now();
                if current.pace.due(now, current.items, current.stage.items) {
                    eprintln!("{}", line(self.command, current, now - current.started, false));
                }
            }
        }
    }

    fn end(&self) {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(current) = current {
            self.finish(current);
        }
    }
}

impl Drop for Reporter {
    /// A stage cut short by an error: its bar stays as it was, above the error message.
    fn drop(&mut self) {
        let current = self.current.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(bar) = current.and_then(|current| current.bar) {
            bar.abandon();
        }
    }
}

/// When the next plain line is due.
struct Pace {
    last: Instant,
    /// The tenths of the total that the last line had reached.
    tenths: u64,
}

impl Pace {
    fn new(now: Instant) -> Self {
        Self { last: now, tenths: 0 }
    }

    /// Whether `done` items (of `total`, if known) make a line at `now`. The last item
    /// makes none: the stage's end says it.
    fn due(&mut self, now: Instant, done: u64, total: Option<u64>) -> bool {
        let tenths = match total {
            Some(total) if done >= total => return false,
            Some(total) => done.saturating_mul(10) / total,
            None => 0,
        };
        if tenths > self.tenths || now.duration_since(self.last) >= EVERY {
            self.tenths = self.tenths.max(tenths);
            self.last = now;
            return true;
        }
        false
    }
}

/// `9.77 MiB of 12.00 MiB`, `9.77 MiB`, or nothing, as much as the stage counts bytes.
fn bytes_text(stage: &Stage, bytes: u64) -> String {
    match stage.bytes {
        Some(total) => format!("{} of {}", HumanBytes(bytes), HumanBytes(total)),
        None if bytes > 0 => HumanBytes(bytes).to_string(),
        None => String::new(),
    }
}

/// `COMMAND: STAGE DONE/TOTAL (BYTES) 1.2 s`, or `... done in 1.2 s` at the end.
fn line(command: &str, current: &Current, elapsed: Duration, ended: bool) -> String {
    let mut text = format!("{command}: {} {}", current.stage.name, current.items);
    if let Some(total) = current.stage.items {
        text.push_str(&format!("/{}", total.max(current.items)));
    }
    let bytes = bytes_text(&current.stage, current.bytes);
    if !bytes.is_empty() {
        text.push_str(&format!(" ({bytes})"));
    }
    let when = if ended { "done in " } else { "" };
    text.push_str(&format!(" {when}{:.1} s", elapsed.as_secs_f64()));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current(name: &'static str, items: Option<u64>, bytes: Option<u64>, done: (u64, u64)) -> Current {
        let now = Instant::now();
        Current {
            stage: Stage { name, items, bytes },
            items: done.0,
            bytes: done.1,
            started: now,
            pace: Pace::new(now),
            bar: None,
        }
    }

    #[test]
    fn lines_say_counts_bytes_and_time() {
        let blobs = current("blobs", Some(10_000), Some(10 << 20), (2_500, 5 << 19));
        assert_eq!(
            line("migrate-store", &blobs, Duration::from_millis(5_120), false),
            "migrate-store: blobs 2500/10000 (2.50 MiB of 10.00 MiB) 5.1 s"
        );
        let rows = current("rows", Some(300), None, (300, 0));
        assert_eq!(
            line("migrate-store", &rows, Duration::from_secs(2), true),
            "migrate-store: rows 300/300 done in 2.0 s"
        );
        let listed = current("listed", None, None, (42, 0));
        assert_eq!(line("blobs collect", &listed, Duration::ZERO, true), "blobs collect: listed 42 done in 0.0 s");
        // Past a total counted beforehand, the total follows.
        let grown = current("unreferenced", Some(10), None, (12, 0));
        assert_eq!(line("blobs collect", &grown, Duration::ZERO, false), "blobs collect: unreferenced 12/12 0.0 s");
    }

    #[test]
    fn a_line_is_due_every_tenth_and_every_two_seconds() {
        let start = Instant::now();
        let mut pace = Pace::new(start);
        let due: Vec<u64> = (1..=1000).filter(|done| pace.due(start, *done, Some(1000))).collect();
        assert_eq!(due, [100, 200, 300, 400, 500, 600, 700, 800, 900], "the last one is the end's");
        // Without a total, or between tenths: time alone.
        let mut pace = Pace::new(start);
        assert!(!pace.due(start + Duration::from_millis(1_999), 5, None));
        assert!(pace.due(start + EVERY, 6, None));
        assert!(!pace.due(start + EVERY + Duration::from_secs(1), 7, None));
        assert!(pace.due(start + EVERY * 2, 8, None));
        let mut pace = Pace::new(start);
        assert!(pace.due(start + EVERY, 1, Some(1000)), "slow work still shows it moves");
        assert!(!pace.due(start + EVERY, 2, Some(1000)));
    }
}
