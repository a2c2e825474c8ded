//! `/a/users`: user administration, for admins.

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::StatusCode;
use cells_core::Profile;
use cells_service::UserRecord;
use cells_service::users::{ChangeUser, CreateUser};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::wire::Pagination;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserJson {
    uuid: String,
    login: String,
    display_name: String,
    profile: &'static str,
    locked: bool,
    created_at: i64,
    updated_at: i64,
}

impl From<&UserRecord> for UserJson {
    fn from(user: &UserRecord) -> Self {
        Self {
            uuid: user.id.to_string(),
            login: user.login.to_string(),
            display_name: user.display_name.clone(),
            profile: user.profile.as_str(),
            locked: user.locked,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

fn parse_profile(text: Option<&str>) -> ApiResult<Option<Profile>> {
    text.map(|p| p.parse().map_err(ApiError::bad_request)).transpose()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateUserRequest {
    login: String,
    password: Option<SecretString>,
    profile: Option<String>,
    display_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserAnswer {
    user: UserJson,
    /// Only when the server generated it; shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_password: Option<String>,
}

pub async fn create_user(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(body): Json<CreateUserRequest>,
) -> ApiResult<(StatusCode, crate::wire::NoStore, JsonAnswer<CreateUserAnswer>)> {
    let admin = principal.admin()?;
    let new = CreateUser {
        login: body.login,
        password: body.password,
        profile: parse_profile(body.profile.as_deref())?.unwrap_or(Profile::Standard),
        display_name: body.display_name,
    };
    let (user, generated) = state.cells.create_user(admin, new).await?;
    let answer = CreateUserAnswer {
        user: UserJson::from(&user),
        generated_password: generated.map(|p| p.expose_secret().to_owned()),
    };
    Ok((StatusCode::CREATED, crate::wire::no_store(), JsonAnswer(answer)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    offset: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserList {
    users: Vec<UserJson>,
    pagination: Pagination,
}

pub async fn list_users(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Query(page): Query<Page>,
) -> ApiResult<JsonAnswer<UserList>> {
    let (offset, limit) = (page.offset.unwrap_or(0).max(0), page.limit.unwrap_or(100).clamp(1, 10_000));
    let (users, total) = state.cells.list_users(principal.admin()?, offset, limit).await?;
    Ok(JsonAnswer(UserList {
        users: users.iter().map(UserJson::from).collect(),
        pagination: Pagination { offset, limit, total },
    }))
}

pub async fn get_user(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(login): Path<String>,
) -> ApiResult<JsonAnswer<UserJson>> {
    let user = state.cells.get_user(principal.admin()?, &login).await?;
    Ok(JsonAnswer(UserJson::from(&user)))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UpdateUserRequest {
    display_name: Option<String>,
    profile: Option<String>,
    password: Option<SecretString>,
    locked: Option<bool>,
}

pub async fn update_user(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(login): Path<String>,
    Json(body): Json<UpdateUserRequest>,
) -> ApiResult<JsonAnswer<UserJson>> {
    let admin = principal.admin()?;
    if login == principal.login.as_str() && (body.locked == Some(true) || body.profile.as_deref() == Some("standard")) {
        return Err(ApiError::new(StatusCode::CONFLICT, "Conflict", "an admin cannot lock or demote themself"));
    }
    let change = ChangeUser {
        display_name: body.display_name,
        profile: parse_profile(body.profile.as_deref())?,
        password: body.password,
        locked: body.locked,
    };
    let user = state.cells.update_user(admin, &login, change).await?;
    Ok(JsonAnswer(UserJson::from(&user)))
}

pub async fn delete_user(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(login): Path<String>,
) -> ApiResult<StatusCode> {
    let admin = principal.admin()?;
    if login == principal.login.as_str() {
        return Err(ApiError::new(StatusCode::CONFLICT, "Conflict", "an admin cannot delete themself"));
    }
    state.cells.delete_user(admin, &login).await?;
    Ok(StatusCode::NO_CONTENT)
}
