//! Uploads made visible in batches: one write transaction points many files to their
//! new blobs (group commit).
//!
//! Each file of a batch is checked and written on its own inside the shared
//! transaction: its parent must still be the folder at the path it implies, its
//! condition (`If-Match`, `If-None-Match`) must hold on the file there, and no folder
//! may have its name. A file whose check fails gets its own error and writes nothing;
//! the others go on. Two files of one batch at the same path apply in order, as two
//! transactions would (the second replaces the first, whose blob goes to the
//! collector). A statement that fails (the database went away) fails the batch as a
//! whole, and nothing of it is visible.
//!
//! Per file, two statements: one read of the parent and the file at the path together,
//! and one `INSERT` or `UPDATE ... RETURNING` that gives back the record; per batch, the
//! write lock, one bump of the tree counter and one commit.

use cells_core::{NodeId, NodeKind, UnixTime};
use sqlx::{Any, Transaction};

use crate::nodes::{COLUMNS, NewNode, NodeRecord, from_row, new_etag, parent_path};
use crate::{Result, Store, StoreError};

/// A condition on the file at an upload's path when it commits (`None`: no file).
pub type Condition<'a> = &'a (dyn Fn(Option<&NodeRecord>) -> bool + Sync);

/// One file of a batch: the node to create or point to its new blob, if `condition`
/// holds.
pub struct PutFile<'a> {
    pub node: NewNode<'a>,
    pub condition: Condition<'a>,
}

/// What a batch did: each file's outcome, in order, and the tree counter the batch
/// left (so that the process that wrote knows whether anybody else wrote meanwhile).
pub struct PutFiles {
    pub outcomes: Vec<Result<(NodeRecord, bool)>>,
    pub tree_counter: i64,
}

impl Store {
    /// Points each file of `files` to its new, complete blob, in one write transaction
    /// (see the module's text). Returns each file's record and whether it was created.
    ///
    /// # Errors
    /// On a database failure, for the batch as a whole. Each file's own refusal is in
    /// its outcome: [`StoreError::PreconditionFailed`], [`StoreError::Conflict`] (a
    /// folder has that path), [`StoreError::Vanished`] (the parent was deleted),
    /// [`StoreError::Moved`] (the parent moved).
    pub async fn put_files(&self, files: &[PutFile<'_>], now: UnixTime) -> Result<PutFiles> {
        let mut tx = self.begin_write().await?;
        let mut outcomes = Vec::with_capacity(files.len());
        for file in files {
            outcomes.push(match put_one(&mut tx, file, now).await {
                Err(StoreError::Database(err)) => return Err(StoreError::Database(err)),
                outcome => outcome,
            });
        }
        let tree_counter = if outcomes.iter().any(Result::is_ok) {
            let (counter,): (i64,) =
                sqlx::query_as("UPDATE change_counter SET tree = tree + 1 WHERE id = 1 RETURNING tree")
                    .fetch_one(&mut *tx)
                    .await?;
            counter
        } else {
            let (counter,): (i64,) =
                sqlx::query_as("SELECT tree FROM change_counter WHERE id = 1").fetch_one(&mut *tx).await?;
            counter
        };
        tx.commit().await?;
        Ok(PutFiles { outcomes, tree_counter })
    }

    /// One file, in a transaction of its own: as [`Store::put_files`].
    ///
    /// # Errors
    /// As [`Store::put_files`], the file's own refusal included.
    pub async fn put_file_if(
        &self,
        node: &NewNode<'_>,
        now: UnixTime,
        condition: Condition<'_>,
    ) -> Result<(NodeRecord, bool)> {
        let file = PutFile { node: *node, condition };
        let mut done = self.put_files(std::slice::from_ref(&file), now).await?;
        done.outcomes.pop().ok_or(StoreError::Vanished)?
    }

    /// As [`Store::put_file_if`], whatever is there.
    ///
    /// # Errors
    /// As [`Store::put_file_if`].
    pub async fn put_file(&self, node: &NewNode<'_>, now: UnixTime) -> Result<(NodeRecord, bool)> {
        self.put_file_if(node, now, &|_| true).await
    }
}

/// Checks and writes one file inside the batch's transaction.
async fn put_one(tx: &mut Transaction<'_, Any>, file: &PutFile<'_>, now: UnixTime) -> Result<(NodeRecord, bool)> {
    let node = &file.node;
    // The parent (by its id) and the file now at the path, in one read.
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM nodes WHERE uuid = $1 OR (workspace = $2 AND path = $3)"))
        .bind(node.parent.to_string())
        .bind(node.workspace.to_string())
        .bind(node.path)
        .fetch_all(&mut **tx)
        .await?;
    let mut parent = None;
    let mut existing = None;
    for row in &rows {
        let record = from_row(row)?;
        if record.id == node.parent {
            parent = Some(record);
        } else {
            existing = Some(record);
        }
    }
    let parent = parent.ok_or(StoreError::Vanished)?;
    if parent.workspace != node.workspace
        || parent.path != parent_path(node.path)
        || parent.kind != NodeKind::Collection
    {
        return Err(StoreError::Moved);
    }
    if !(file.condition)(existing.as_ref()) {
        return Err(StoreError::PreconditionFailed);
    }
    let blob = node.blob.map(|b| b.to_string());
    match existing {
        Some(old) if old.kind == NodeKind::Collection => Err(StoreError::Conflict("a folder with this name")),
        Some(old) => {
            let row = sqlx::query(&format!(
                "UPDATE nodes SET size = $1, mtime = $2, etag = $3, blob = $4 WHERE uuid = $5 RETURNING {COLUMNS}"
            ))
            .bind(node.size)
            .bind(now)
            .bind(new_etag())
            .bind(blob)
            .bind(old.id.to_string())
            .fetch_one(&mut **tx)
            .await?;
            if let Some(blob) = old.blob {
                crate::garbage::drop_blob(tx, blob, now).await?;
            }
            Ok((from_row(&row)?, false))
        }
        None => {
            let row = sqlx::query(&format!(
                "INSERT INTO nodes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
            ))
            .bind(NodeId::random().to_string())
            .bind(node.workspace.to_string())
            .bind(node.parent.to_string())
            .bind(node.path)
            .bind(node.name)
            .bind(node.kind.as_str())
            .bind(node.size)
            .bind(now)
            .bind(new_etag())
            .bind(blob)
            .fetch_one(&mut **tx)
            .await
            .map_err(StoreError::from_write)?;
            Ok((from_row(&row)?, true))
        }
    }
}
