//! Property-based tests of the pure rules in `cells-core`: paths, scope reach, durations
//! and the token format. They run in the ordinary test suite on stable Rust (the fuzz
//! targets need nightly and do not run in CI).
//!
//! Each file states properties that hold for every input of a kind, not examples; the
//! unit tests beside each module keep the examples. A failing case is shrunk and saved by
//! proptest in a `proptest-regressions` folder (commit it: it is replayed first next time).

mod duration;
mod path;
mod reach;
mod token;
