//! Administration of users, behind the [`Admin`] capability. The CLI and the admin REST
//! routes both come here, so their rules cannot drift apart.

use cells_core::{Login, Profile};
use cells_store::{NewUser, UserRecord, UserUpdate};
use secrecy::SecretString;

use crate::{Admin, Cells, Result, ServiceError, passwords};

/// What creating a user takes. Without a password, one is generated and returned.
pub struct CreateUser {
    pub login: String,
    pub password: Option<SecretString>,
    pub profile: Profile,
    pub display_name: Option<String>,
}

/// Changes to a user; `None` leaves a field alone.
#[derive(Default)]
pub struct ChangeUser {
    pub display_name: Option<String>,
    pub profile: Option<Profile>,
    pub password: Option<SecretString>,
    pub locked: Option<bool>,
}

fn parse_login(login: &str) -> Result<Login> {
    Login::parse(login).map_err(|e| ServiceError::BadRequest(format!("invalid login {login:?}: {e}")))
}

fn check_display_name(name: &str) -> Result<()> {
    if name.chars().count() > 128 || name.chars().any(|c| c.is_control() || cells_core::path::is_bidi_control(c)) {
        return Err(ServiceError::BadRequest(
            "a display name has at most 128 characters and no control or bidirectional-text control characters".into(),
        ));
    }
    Ok(())
}

impl Cells {
    /// Creates a user with their personal workspace. Returns the user and the generated
    /// password, if none was given (to be shown once).
    ///
    /// # Errors
    /// 400 for a bad login, password or display name; 409 when the login is taken.
    pub async fn create_user(&self, _: Admin, new: CreateUser) -> Result<(UserRecord, Option<SecretString>)> {
        let login = parse_login(&new.login)?;
        let display_name = new.display_name.unwrap_or_else(|| login.to_string());
        check_display_name(&display_name)?;
        let (password, generated) = match new.password {
            Some(password) => (password, None),
            None => {
                let password = passwords::generate();
                (password.clone(), Some(password))
            }
        };
        passwords::check_strength(&password)?;
        let hash = passwords::hash(password).await?;
        let user = self
            .store()
            .create_user(
                &NewUser { login: &login, display_name: &display_name, profile: new.profile, password_hash: &hash },
                cells_core::now(),
            )
            .await?;
        Ok((user, generated))
    }

    /// # Errors
    /// On a store failure.
    pub async fn list_users(&self, _: Admin, offset: i64, limit: i64) -> Result<(Vec<UserRecord>, i64)> {
        let users = self.store().list_users(offset.max(0), limit.clamp(1, 10_000)).await?;
        Ok((users, self.store().count_users().await?))
    }

    /// # Errors
    /// 404 when there is no such user.
    pub async fn get_user(&self, _: Admin, login: &str) -> Result<UserRecord> {
        self.store().user_by_login(login).await?.ok_or_else(|| no_user(login))
    }

    /// # Errors
    /// 404 when there is no such user; 400 for a bad value.
    pub async fn update_user(&self, _: Admin, login: &str, change: ChangeUser) -> Result<UserRecord> {
        let user = self.store().user_by_login(login).await?.ok_or_else(|| no_user(login))?;
        if let Some(name) = &change.display_name {
            check_display_name(name)?;
        }
        let password_hash = match change.password {
            Some(password) => {
                passwords::check_strength(&password)?;
                Some(passwords::hash(password).await?)
            }
            None => None,
        };
        let update = UserUpdate {
            display_name: change.display_name,
            profile: change.profile,
            password_hash,
            locked: change.locked,
        };
        let updated =
            self.store().update_user(user.id, &update, cells_core::now()).await?.ok_or_else(|| no_user(login))?;
        self.changed().await;
        Ok(updated)
    }

    /// Deletes a user, their personal files and their tokens.
    ///
    /// # Errors
    /// 404 when there is no such user.
    pub async fn delete_user(&self, _: Admin, login: &str) -> Result<()> {
        let user = self.store().user_by_login(login).await?.ok_or_else(|| no_user(login))?;
        let deleted = self.store().delete_user(user.id, cells_core::now()).await?;
        self.changed().await;
        if deleted { Ok(()) } else { Err(no_user(login)) }
    }

    /// Creates the first admin on a new database. Returns the generated password when
    /// none was given, or `None` when users already exist.
    ///
    /// # Errors
    /// When the given password is too weak, or on a store failure.
    pub async fn bootstrap_admin(
        &self,
        password: Option<SecretString>,
    ) -> Result<Option<(UserRecord, Option<SecretString>)>> {
        if self.store().count_users().await? > 0 {
            return Ok(None);
        }
        let new = CreateUser {
            login: "admin".into(),
            password,
            profile: Profile::Admin,
            display_name: Some("Administrator".into()),
        };
        match self.create_user(Admin::operator(), new).await {
            Ok(created) => Ok(Some(created)),
            // Another process bootstrapped at the same moment.
            Err(ServiceError::Conflict(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

pub(crate) fn no_user(login: &str) -> ServiceError {
    ServiceError::NotFound(format!("no user {login:?}"))
}
