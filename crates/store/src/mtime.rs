//! Setting a node's modification time, as SFTP clients do after an upload (`setstat`)
//! so that a later sync sees the file unchanged. The content and the etag stay.

use cells_core::{NodeId, UnixTime};

use crate::keys::bump_tree_counter;
use crate::{Result, Store};

impl Store {
    /// Sets the mtime of a node; `false` when there is no such node (any more).
    ///
    /// # Errors
    /// On a database failure.
    pub async fn set_mtime(&self, node: NodeId, mtime: UnixTime) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query("UPDATE nodes SET mtime = $1 WHERE uuid = $2")
            .bind(mtime)
            .bind(node.to_string())
            .execute(&mut *tx)
            .await?;
        bump_tree_counter(&mut tx).await?;
        tx.commit().await?;
        Ok(changed.rows_affected() == 1)
    }
}
