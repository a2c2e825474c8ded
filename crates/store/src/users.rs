//! Users: create, read, update, delete. Deleting a user deletes their personal
//! workspace, grants, refresh tokens and personal access tokens with them.

use cells_core::{Login, Profile, UnixTime, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::row::parse;
use crate::{Result, Store, StoreError};

/// A user as stored. `password_hash` is an argon2id PHC string, never a password.
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: UserId,
    pub login: Login,
    pub display_name: String,
    pub profile: Profile,
    pub password_hash: String,
    pub locked: bool,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
    /// Moves when every login session of the user must end (password change, lock,
    /// a stolen refresh token); login access tokens carry the value they were issued under.
    pub session_gen: i64,
}

/// What creating a user needs.
pub struct NewUser<'a> {
    pub login: &'a Login,
    pub display_name: &'a str,
    pub profile: Profile,
    pub password_hash: &'a str,
}

/// Fields to change on a user; `None` leaves a field as it is.
#[derive(Default)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub profile: Option<Profile>,
    pub password_hash: Option<String>,
    pub locked: Option<bool>,
}

const COLUMNS: &str = "uuid, login, display_name, profile, password_hash, locked, created_at, updated_at, session_gen";

fn from_row(row: &AnyRow) -> Result<UserRecord> {
    let login: &str = row.try_get("login")?;
    Ok(UserRecord {
        id: parse(row, "uuid")?,
        login: Login::parse(login).map_err(|_| StoreError::Corrupt("login"))?,
        display_name: row.try_get("display_name")?,
        profile: parse(row, "profile")?,
        password_hash: row.try_get("password_hash")?,
        locked: row.try_get::<i64, _>("locked")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        session_gen: row.try_get("session_gen")?,
    })
}

/// Ends every login session of a user: their refresh tokens go, and the session
/// generation moves so that their login access tokens are refused.
pub(crate) async fn end_sessions(tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: UserId) -> Result<()> {
    sqlx::query("DELETE FROM refresh_tokens WHERE user_uuid = $1").bind(id.to_string()).execute(&mut **tx).await?;
    sqlx::query("UPDATE users SET session_gen = session_gen + 1 WHERE uuid = $1")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    crate::keys::bump_change_counter(tx).await
}

impl Store {
    /// Creates a user and their personal workspace (with its root folder), in one
    /// transaction.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the login is taken.
    pub async fn create_user(&self, new: &NewUser<'_>, now: UnixTime) -> Result<UserRecord> {
        let id = UserId::random();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO users (uuid, login, display_name, profile, password_hash, locked, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
        )
        .bind(id.to_string())
        .bind(new.login.as_str())
        .bind(new.display_name)
        .bind(new.profile.as_str())
        .bind(new.password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        crate::workspaces::insert_workspace(
            &mut tx,
            crate::WorkspaceKind::Personal,
            "personal-files",
            "Personal files",
            Some(id),
            now,
        )
        .await?;
        tx.commit().await?;
        self.user_by_id(id).await?.ok_or(StoreError::Vanished)
    }

    /// # Errors
    /// On a database failure.
    pub async fn user_by_login(&self, login: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE login = $1"))
            .bind(login)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// # Errors
    /// On a database failure.
    pub async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE uuid = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// All users, by login.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn list_users(&self, offset: i64, limit: i64) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM users ORDER BY login LIMIT $1 OFFSET $2"))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// # Errors
    /// On a database failure.
    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
    }

    /// Applies an update; returns the updated user, or `None` when there is no such user.
    /// A change of lock state or password bumps the change counter, so that every
    /// process drops what it cached about this user.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn update_user(&self, id: UserId, update: &UserUpdate, now: UnixTime) -> Result<Option<UserRecord>> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET display_name = COALESCE($1, display_name), profile = COALESCE($2, profile), \
             password_hash = COALESCE($3, password_hash), locked = COALESCE($4, locked), updated_at = $5 \
             WHERE uuid = $6",
        )
        .bind(update.display_name.as_deref())
        .bind(update.profile.map(Profile::as_str))
        .bind(update.password_hash.as_deref())
        .bind(update.locked.map(i64::from))
        .bind(now)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        if update.locked.is_some() || update.password_hash.is_some() || update.profile.is_some() {
            crate::keys::bump_change_counter(&mut tx).await?;
        }
        if update.password_hash.is_some() || update.locked == Some(true) {
            end_sessions(&mut tx, id).await?;
        }
        tx.commit().await?;
        self.user_by_id(id).await
    }

    /// Deletes a user with their personal workspace, grants and tokens (the blobs of
    /// their files go to the collector); `false` when there was no such user.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn delete_user(&self, id: UserId, now: UnixTime) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "{} SELECT DISTINCT n.blob, $2 FROM nodes n JOIN workspaces w ON w.uuid = n.workspace \
             WHERE w.kind = 'personal' AND w.owner = $1 AND n.blob IS NOT NULL {}",
            crate::garbage::INSERT,
            crate::garbage::ON_CONFLICT
        ))
        .bind(id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM nodes WHERE workspace IN (SELECT uuid FROM workspaces WHERE kind = 'personal' AND owner = $1)",
        )
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM users WHERE uuid = $1").bind(id.to_string()).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        crate::keys::bump_change_counter(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }
}
