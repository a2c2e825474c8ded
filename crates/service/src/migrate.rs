//! Moving an install to other engines (`cells admin migrate-store`): every row of the
//! database into another database, and, when the content moves too, every blob a file
//! points to into the other blob store, under the same ids. Blobs go first and the rows
//! last, in one transaction: a migration that fails midway leaves the destination
//! database as it was, and the blobs it copied unreferenced there (its collector
//! removes them).

use cells_store::Store;

use crate::{Result, ServiceError, StoreConfig};

/// What a migration copied.
#[derive(Debug)]
pub struct Migrated {
    /// Rows per table.
    pub tables: Vec<(&'static str, u64)>,
    /// Blobs copied (none when the content stays where it is).
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Copies the store of `from` into `to`, whose database must hold no user yet.
///
/// # Errors
/// [`ServiceError::Conflict`] when the destination database is in use (holds users) or
/// is the source itself; a database or blob store failure.
pub async fn migrate_store(from: &StoreConfig, to: &StoreConfig) -> Result<Migrated> {
    if from.database_url == to.database_url {
        return Err(ServiceError::Conflict("the destination database is the source database".into()));
    }
    let unreachable = |which: &'static str| {
        move |err: cells_store::StoreError| ServiceError::BadRequest(format!("cannot open the {which} database: {err}"))
    };
    let source = Store::open(&from.database_url).await.map_err(unreachable("source"))?;
    let dest = Store::open(&to.database_url).await.map_err(unreachable("destination"))?;
    if dest.count_users().await? != 0 {
        return Err(ServiceError::Conflict(
            "the destination database already holds users: migrate into a new, empty database".into(),
        ));
    }
    let (mut blobs, mut bytes) = (0, 0);
    if from.storage != to.storage {
        let unreachable = |which: &'static str| {
            move |err: std::io::Error| ServiceError::BadRequest(format!("cannot open the {which} storage: {err}"))
        };
        let here = from.storage.open().await.map_err(unreachable("source"))?;
        let there = to.storage.open().await.map_err(unreachable("destination"))?;
        for (blob, size) in source.referenced_blobs().await? {
            there.import(&here, blob, size).await?;
            blobs += 1;
            bytes += size;
        }
    }
    let copied = source.copy_into(&dest).await.map_err(|err| match err {
        cells_store::StoreError::PreconditionFailed => {
            ServiceError::Conflict("the destination database already holds users".into())
        }
        other => other.into(),
    })?;
    source.close().await;
    dest.close().await;
    Ok(Migrated { tables: copied.tables, blobs, bytes })
}
