//! `/a/workspaces`: workspace administration and grants, for admins.

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::StatusCode;
use cells_service::Grant;
use cells_service::WorkspaceRecord;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::extract::{Json, Path};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantJson {
    login: String,
    user_uuid: String,
    rights: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WorkspaceJson {
    uuid: String,
    slug: String,
    label: String,
    kind: &'static str,
    root_uuid: String,
    created_at: i64,
    grants: Vec<GrantJson>,
}

fn to_json(workspace: &WorkspaceRecord, grants: &[Grant]) -> WorkspaceJson {
    WorkspaceJson {
        uuid: workspace.id.to_string(),
        slug: workspace.slug.clone(),
        label: workspace.label.clone(),
        kind: workspace.kind.as_str(),
        root_uuid: workspace.root.to_string(),
        created_at: workspace.created_at,
        grants: grants
            .iter()
            .map(|g| GrantJson { login: g.login.to_string(), user_uuid: g.user.to_string(), rights: g.rights.as_str() })
            .collect(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WorkspaceList {
    workspaces: Vec<WorkspaceJson>,
}

pub async fn list_workspaces(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> ApiResult<JsonAnswer<WorkspaceList>> {
    let all = state.cells.list_workspaces_admin(principal.admin()?).await?;
    Ok(JsonAnswer(WorkspaceList { workspaces: all.iter().map(|(w, g)| to_json(w, g)).collect() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateWorkspaceRequest {
    slug: String,
    label: Option<String>,
}

pub async fn create_workspace(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(body): Json<CreateWorkspaceRequest>,
) -> ApiResult<(StatusCode, JsonAnswer<WorkspaceJson>)> {
    let created = state.cells.create_workspace(principal.admin()?, &body.slug, body.label.as_deref()).await?;
    Ok((StatusCode::CREATED, JsonAnswer(to_json(&created, &[]))))
}

pub async fn get_workspace(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(slug): Path<String>,
) -> ApiResult<JsonAnswer<WorkspaceJson>> {
    let (workspace, grants) = state.cells.get_workspace(principal.admin()?, &slug).await?;
    Ok(JsonAnswer(to_json(&workspace, &grants)))
}

pub async fn delete_workspace(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    state.cells.delete_workspace(principal.admin()?, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GrantRequest {
    rights: String,
}

pub async fn grant(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path((slug, login)): Path<(String, String)>,
    Json(body): Json<GrantRequest>,
) -> ApiResult<StatusCode> {
    state.cells.grant(principal.admin()?, &slug, &login, &body.rights).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn revoke_grant(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path((slug, login)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.cells.revoke_grant(principal.admin()?, &slug, &login).await?;
    Ok(StatusCode::NO_CONTENT)
}
