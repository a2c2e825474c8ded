//! Copying a whole store into another (`cells admin migrate-store`): a single-node
//! SQLite install moving to PostgreSQL, or back. Every table is read in one read
//! transaction of the source (a consistent snapshot, even of a running server) and
//! written in one transaction of the destination, which must be freshly migrated and
//! empty: a copy that fails midway leaves the destination as it was.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError};

/// How a column is read and written.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Bytes,
}
use Kind::{Bytes, Int, Text};

/// Every table, parents before children (foreign keys), with its columns and the order
/// that keeps a parent node before its children (a path sorts before its descendants).
/// A table: its name, its columns, and the order its rows are copied in.
type Table = (&'static str, &'static [(&'static str, Kind)], &'static str);

const TABLES: &[Table] = &[
    (
        "users",
        &[
            ("uuid", Text),
            ("login", Text),
            ("display_name", Text),
            ("profile", Text),
            ("password_hash", Text),
            ("locked", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("session_gen", Int),
        ],
        "uuid",
    ),
    (
        "workspaces",
        &[("uuid", Text), ("slug", Text), ("kind", Text), ("owner", Text), ("label", Text), ("created_at", Int)],
        "uuid",
    ),
    ("grants", &[("workspace", Text), ("user_uuid", Text), ("rights", Text)], "workspace, user_uuid"),
    (
        "nodes",
        &[
            ("uuid", Text),
            ("workspace", Text),
            ("parent", Text),
            ("path", Text),
            ("name", Text),
            ("kind", Text),
            ("size", Int),
            ("mtime", Int),
            ("etag", Text),
            ("blob", Text),
        ],
        "workspace, path",
    ),
    (
        "refresh_tokens",
        &[
            ("hash", Text),
            ("user_uuid", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("family", Text),
            ("used_at", Int),
        ],
        "hash",
    ),
    (
        "tokens",
        &[
            ("uuid", Text),
            ("hash", Text),
            ("type", Text),
            ("label", Text),
            ("user_uuid", Text),
            ("user_login", Text),
            ("scopes", Text),
            ("auto_refresh_window", Int),
            ("expires_at", Int),
            ("max_expires_at", Int),
            ("created_by", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("last_used_at", Int),
            ("last_used_ip", Text),
            ("last_used_via", Text),
            ("revoked_at", Int),
            ("last_failure_at", Int),
            ("last_failure_reason", Text),
            ("allowed_ips", Text),
            ("allowed_via", Text),
            ("old_hash", Text),
            ("rotated_at", Int),
            ("grace_ends_at", Int),
            ("leaked_at", Int),
            ("leaked_by", Text),
        ],
        "uuid",
    ),
    (
        "token_activity",
        &[("token_uuid", Text), ("hour", Int), ("ip", Text), ("via", Text), ("count", Int)],
        "token_uuid, hour, ip, via",
    ),
    (
        "ssh_keys",
        &[
            ("uuid", Text),
            ("fingerprint", Text),
            ("public_key", Text),
            ("algorithm", Text),
            ("label", Text),
            ("user_uuid", Text),
            ("user_login", Text),
            ("scopes", Text),
            ("auto_refresh_window", Int),
            ("expires_at", Int),
            ("max_expires_at", Int),
            ("created_by", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("last_used_at", Int),
            ("last_used_ip", Text),
            ("last_used_via", Text),
            ("revoked_at", Int),
            ("last_failure_at", Int),
            ("last_failure_reason", Text),
        ],
        "uuid",
    ),
    ("dav_properties", &[("node", Text), ("namespace", Text), ("name", Text), ("value", Bytes)], "node"),
    (
        "dav_locks",
        &[
            ("token", Text),
            ("workspace", Text),
            ("path", Text),
            ("user_uuid", Text),
            ("owner_xml", Text),
            ("depth", Text),
            ("exclusive", Int),
            ("expires_at", Int),
        ],
        "token",
    ),
    ("server_keys", &[("name", Text), ("value", Bytes), ("created_at", Int)], "name"),
    ("settings", &[("name", Text), ("value", Text)], "name"),
    ("blob_garbage", &[("blob", Text), ("dropped_at", Int)], "blob"),
];

/// Rows per INSERT statement.
const BATCH: usize = 200;

/// What was copied: rows per table.
#[derive(Debug, Default)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
}

/// How far a copy got, told as it goes ([`Store::copy_into_with`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyStep {
    /// The rows there are to copy, in all tables: told once, before the first is written.
    Counted(u64),
    /// So many more rows were written.
    Copied(u64),
}

fn bind_row<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    row: &AnyRow,
    columns: &[(&str, Kind)],
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>> {
    for (index, (_, kind)) in columns.iter().enumerate() {
        query = match kind {
            Text => query.bind(row.try_get::<Option<String>, _>(index)?),
            Int => query.bind(row.try_get::<Option<i64>, _>(index)?),
            Bytes => query.bind(row.try_get::<Option<Vec<u8>>, _>(index)?),
        };
    }
    Ok(query)
}

impl Store {
    /// Copies every row of this store into `dest`, which must hold no user (it may hold
    /// the shared workspace a server makes at start, which is replaced by this store's).
    ///
    /// # Errors
    /// [`StoreError::PreconditionFailed`] when `dest` is not empty; a database failure.
    pub async fn copy_into(&self, dest: &Store) -> Result<Copied> {
        self.copy_into_with(dest, &mut |_| ()).await
    }

    /// [`Store::copy_into`], telling `progress` how many rows there are, then each batch
    /// written (a few hundred rows at a time).
    ///
    /// # Errors
    /// As [`Store::copy_into`].
    pub async fn copy_into_with(&self, dest: &Store, progress: &mut (dyn FnMut(CopyStep) + Send)) -> Result<Copied> {
        if dest.count_users().await? != 0 {
            return Err(StoreError::PreconditionFailed);
        }
        let mut source = self.pool.begin().await?;
        let mut target = dest.begin_write().await?;
        // What a fresh store holds already (the shared workspace with its root, keys a
        // server made at start) gives way to the source's.
        for (table, _, _) in TABLES.iter().rev() {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *target).await?;
        }
        // Counted in the read transaction of the copy: the same snapshot.
        let mut rows = 0;
        for (table, _, _) in TABLES {
            let (count,): (i64,) =
                sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut *source).await?;
            rows += u64::try_from(count).map_err(|_| StoreError::Corrupt("row count"))?;
        }
        progress(CopyStep::Counted(rows));
        let mut copied = Copied::default();
        for (table, columns, order) in TABLES {
            let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            let rows = sqlx::query(&format!("SELECT {} FROM {table} ORDER BY {order}", names.join(", ")))
                .fetch_all(&mut *source)
                .await?;
            for batch in rows.chunks(BATCH) {
                let mut values = Vec::with_capacity(batch.len());
                for n in 0..batch.len() {
                    let slots: Vec<String> =
                        (1..=columns.len()).map(|c| format!("${}", n * columns.len() + c)).collect();
                    values.push(format!("({})", slots.join(", ")));
                }
                let sql = format!("INSERT INTO {table} ({}) VALUES {}", names.join(", "), values.join(", "));
                let mut query = sqlx::query(&sql);
                for row in batch {
                    query = bind_row(query, row, columns)?;
                }
                query.execute(&mut *target).await.map_err(StoreError::from_write)?;
                progress(CopyStep::Copied(batch.len() as u64));
            }
            copied.tables.push((table, rows.len() as u64));
        }
        let (value, tree): (i64, i64) =
            sqlx::query_as("SELECT value, tree FROM change_counter WHERE id = 1").fetch_one(&mut *source).await?;
        sqlx::query("UPDATE change_counter SET value = value + $1 + 1, tree = tree + $2 + 1 WHERE id = 1")
            .bind(value)
            .bind(tree)
            .execute(&mut *target)
            .await?;
        source.commit().await?;
        target.commit().await?;
        Ok(copied)
    }

    /// Every blob a node points to, with its size.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn referenced_blobs(&self) -> Result<Vec<(cells_core::BlobId, u64)>> {
        let rows = sqlx::query("SELECT blob, MAX(size) AS size FROM nodes WHERE blob IS NOT NULL GROUP BY blob")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let size: i64 = row.try_get("size")?;
                Ok((crate::row::parse(row, "blob")?, u64::try_from(size).map_err(|_| StoreError::Corrupt("size"))?))
            })
            .collect()
    }
}
