//! Group commit: uploads that finish together are made visible by one write transaction.
//!
//! An upload whose blob is complete and synced ([`cells_store::BlobWriter::finish`])
//! queues its file here and waits for the answer. One task per process takes whatever is
//! queued (at most [`MAX_BATCH`]) and puts every file in one transaction
//! ([`cells_store::Store::put_files`]): one lock, one tree-counter bump, one commit (and
//! so one sync of SQLite's log) for the batch. The blobs' own syncs happened before, in
//! each upload, at the same time for uploads that finish together. Nothing waits for company: a lone upload
//! is committed as soon as it is queued, and while one batch commits the next gathers.
//! So the work is shared exactly when uploads arrive faster than one commit takes.
//!
//! The guarantee is each upload's own: it is answered only after the commit of its
//! batch, so an answered upload's content and record are on disk; an upload whose check
//! fails in the transaction (its condition, a folder by its name, a parent that moved)
//! gets its own error while the others of its batch go on. If the batch fails as a
//! whole (a statement fails: the database went away), each of its files is tried again
//! in a transaction of its own, so that every upload gets its own answer.

use std::sync::Weak;

use cells_core::{BlobId, NodeId, NodeKind, WorkspaceId};
use cells_store::{NewNode, NodeRecord, PutFile, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::{Cells, Inner, ServiceError};

/// At most this many files per transaction.
pub const MAX_BATCH: usize = 128;

/// A condition an upload puts on the file at its path, checked in the transaction.
pub(crate) type Condition = Box<dyn Fn(Option<&NodeRecord>) -> bool + Send + Sync>;

/// A file whose blob is complete, to be made visible.
pub(crate) struct FileToPut {
    pub(crate) workspace: WorkspaceId,
    pub(crate) parent: NodeId,
    pub(crate) path: String,
    pub(crate) name: String,
    pub(crate) size: i64,
    pub(crate) blob: BlobId,
}

type Outcome = Result<(NodeRecord, bool), ServiceError>;

struct Queued {
    file: FileToPut,
    condition: Condition,
    reply: oneshot::Sender<Outcome>,
}

/// The queue of one process's uploads waiting for their commit.
pub(crate) struct Commits {
    queue: mpsc::UnboundedSender<Queued>,
}

impl Commits {
    /// Starts the committing task of the service `inner` will be.
    pub(crate) fn start(inner: Weak<Inner>) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run(inner, waiting));
        Self { queue }
    }
}

async fn run(inner: Weak<Inner>, mut waiting: mpsc::UnboundedReceiver<Queued>) {
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let Some(inner) = inner.upgrade() else { return };
        Cells { inner }.commit_batch(batch).await;
    }
}

impl Cells {
    /// Makes `file` visible with the next batch, if `condition` holds on the file at its
    /// path then; returns its record and whether it was created.
    pub(crate) async fn put_with_batch(&self, file: FileToPut, condition: Condition) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let stopped = || ServiceError::Internal("the service stopped before the upload was committed".into());
        self.inner.commits.queue.send(Queued { file, condition, reply }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn commit_batch(&self, batch: Vec<Queued>) {
        let outcomes = match self.put_batch(&batch).await {
            Ok(outcomes) => outcomes,
            // One file's statement may be what failed: each alone, so that the others
            // still get in and every upload gets its own answer.
            Err(err) if err.is_refused_statement() && batch.len() > 1 => {
                let mut outcomes = Vec::with_capacity(batch.len());
                for queued in &batch {
                    outcomes.push(match self.put_batch(std::slice::from_ref(queued)).await {
                        Ok(mut one) => one.pop().unwrap_or_else(|| Err(StoreError::Vanished.into())),
                        Err(err) => Err(err.into()),
                    });
                }
                outcomes
            }
            // The database is out of reach: the same answer for all.
            Err(err) => vec![Err(ServiceError::from(err)); batch.len()],
        };
        for (queued, outcome) in batch.into_iter().zip(outcomes) {
            // An upload whose client went away is committed all the same: its answer
            // has no one to go to.
            let _ = queued.reply.send(outcome);
        }
    }

    /// One transaction for `batch`, and the caches told what it changed.
    async fn put_batch(&self, batch: &[Queued]) -> Result<Vec<Outcome>, StoreError> {
        let files: Vec<PutFile<'_>> = batch
            .iter()
            .map(|queued| PutFile {
                node: NewNode {
                    workspace: queued.file.workspace,
                    parent: queued.file.parent,
                    path: &queued.file.path,
                    name: &queued.file.name,
                    kind: NodeKind::Leaf,
                    size: queued.file.size,
                    blob: Some(queued.file.blob),
                },
                condition: &*queued.condition,
            })
            .collect();
        let done = match self.store().put_files(&files, cells_core::now()).await {
            Ok(done) => done,
            Err(err) => {
                // The commit's fate may be unknown (a connection lost at COMMIT).
                self.tree_changed();
                return Err(err);
            }
        };
        let changed: Vec<(WorkspaceId, String)> = done
            .outcomes
            .iter()
            .filter_map(|outcome| outcome.as_ref().ok())
            .map(|(node, _)| (node.workspace, node.path.clone()))
            .collect();
        if !changed.is_empty() {
            self.caches().own_uploads(done.tree_counter, &changed);
        }
        Ok(done.outcomes.into_iter().map(|outcome| outcome.map_err(ServiceError::from)).collect())
    }
}
