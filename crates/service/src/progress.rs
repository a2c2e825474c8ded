//! How long work tells how far it got. `migrate-store` ([`crate::migrate`]) and the blob
//! collector go through stages (blobs copied, rows copied, blobs removed...) and call a
//! [`Progress`] at the start of each, as items are done, and at its end. The CLI draws
//! it for the operator; the upkeep task, which nobody watches, passes [`Silent`].

/// One stage of a long piece of work: what it counts, and how much there is when known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage {
    /// What is counted, in a word or two: `blobs`, `rows`, `orphans`.
    pub name: &'static str,
    /// How many items the stage has, when known beforehand.
    pub items: Option<u64>,
    /// How many bytes they hold, when known beforehand.
    pub bytes: Option<u64>,
}

/// Told how far a long piece of work got. Called from the task doing the work, possibly
/// from several futures at once (blobs are copied a few at a time): `&self`.
pub trait Progress: Send + Sync {
    /// A stage begins; the one before it, if any, has ended.
    fn begin(&self, stage: Stage);
    /// So many more items of the current stage are done, holding so many bytes.
    fn advance(&self, items: u64, bytes: u64);
    /// The current stage is over, done in full.
    fn end(&self);
}

/// Progress that nobody watches.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _: Stage) {}
    fn advance(&self, _: u64, _: u64) {}
    fn end(&self) {}
}
