//! `/a/tree` and `/a/nodes`: stat, list, create, move, copy and delete nodes.

use axum::Json as JsonAnswer;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use cells_core::{NodeId, NodeKind, TreePath};
use cells_service::Existing;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::wire::{NodeJson, Pagination, path_after};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatQuery {
    children: Option<bool>,
    offset: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listing {
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<NodeJson>,
    children: Vec<NodeJson>,
    pagination: Pagination,
}

/// Answers either a node (stat) or a listing, as `?children=true` asks.
#[derive(Serialize)]
#[serde(untagged)]
pub enum StatAnswer {
    Node(NodeJson),
    Listing(Listing),
}

const DEFAULT_PAGE: i64 = 1000;

/// `GET /a/tree/` (and `/a/tree`): the workspaces the caller may enter.
pub async fn list_root(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> ApiResult<JsonAnswer<Listing>> {
    let roots = state.cells.list_workspaces(&principal).await?;
    let total = i64::try_from(roots.len()).unwrap_or(i64::MAX);
    let children = roots.iter().map(NodeJson::from).collect();
    Ok(JsonAnswer(Listing { node: None, children, pagination: Pagination { offset: 0, limit: total, total } }))
}

/// `GET /a/tree/{workspace}/{path}`: stat, or list with `?children=true`.
pub async fn stat_node(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    uri: Uri,
    Query(query): Query<StatQuery>,
) -> ApiResult<JsonAnswer<StatAnswer>> {
    let path = path_after(&uri, "/a/tree/")?;
    if query.children != Some(true) {
        if query.offset.is_some() || query.limit.is_some() {
            return Err(ApiError::bad_request("offset and limit apply to listings: add children=true"));
        }
        let view = state.cells.stat(&principal, &path).await?;
        return Ok(JsonAnswer(StatAnswer::Node(NodeJson::from(&view))));
    }
    let offset = query.offset.unwrap_or(0);
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if offset < 0 || !(1..=cells_service::tree::MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "offset must be >= 0 and limit within 1..={}",
            cells_service::tree::MAX_PAGE
        )));
    }
    let (node, children, total) = state.cells.list(&principal, &path, offset, limit).await?;
    Ok(JsonAnswer(StatAnswer::Listing(Listing {
        node: Some(NodeJson::from(&node)),
        children: children.iter().map(NodeJson::from).collect(),
        pagination: Pagination { offset, limit, total },
    })))
}

/// `GET /a/nodes/{uuid}`: stat by UUID.
pub async fn stat_by_uuid(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(uuid): Path<String>,
) -> ApiResult<JsonAnswer<NodeJson>> {
    let id: NodeId = uuid.parse().map_err(|_| ApiError::bad_request(format!("{uuid:?} is not a UUID")))?;
    let view = state.cells.stat_by_id(&principal, id).await?;
    Ok(JsonAnswer(NodeJson::from(&view)))
}

fn parse_path(field: &str, text: &str) -> ApiResult<TreePath> {
    TreePath::parse_given(text).map_err(|e| ApiError::bad_request(format!("invalid {field} {text:?}: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateRequest {
    path: String,
    #[serde(rename = "Type")]
    kind: String,
}

/// `POST /a/tree/create {Path, Type}`.
pub async fn create_node(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(body): Json<CreateRequest>,
) -> ApiResult<(StatusCode, JsonAnswer<NodeJson>)> {
    let path = parse_path("Path", &body.path)?;
    let kind = NodeKind::parse(&body.kind)
        .ok_or_else(|| ApiError::bad_request(format!("invalid Type {:?}: expected COLLECTION or LEAF", body.kind)))?;
    let view = state.cells.create(&principal, &path, kind).await?;
    Ok((StatusCode::CREATED, JsonAnswer(NodeJson::from(&view))))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FromTo {
    from: String,
    to: String,
}

/// `POST /a/tree/move {From, To}`: move or rename; the UUID stays.
pub async fn move_node(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(body): Json<FromTo>,
) -> ApiResult<JsonAnswer<NodeJson>> {
    let (from, to) = (parse_path("From", &body.from)?, parse_path("To", &body.to)?);
    let view = state.cells.move_node(&principal, &from, &to, Existing::Refuse).await?;
    Ok(JsonAnswer(NodeJson::from(&view)))
}

/// `POST /a/tree/copy {From, To}`: the copy gets new UUIDs.
pub async fn copy_node(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(body): Json<FromTo>,
) -> ApiResult<(StatusCode, JsonAnswer<NodeJson>)> {
    let (from, to) = (parse_path("From", &body.from)?, parse_path("To", &body.to)?);
    let view = state.cells.copy_node(&principal, &from, &to, Existing::Refuse).await?;
    Ok((StatusCode::CREATED, JsonAnswer(NodeJson::from(&view))))
}

/// `DELETE /a/tree/{workspace}/{path}`: a file, or a folder with everything in it.
pub async fn delete_node(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    uri: Uri,
) -> ApiResult<StatusCode> {
    let path = path_after(&uri, "/a/tree/")?;
    state.cells.delete(&principal, &path).await?;
    Ok(StatusCode::NO_CONTENT)
}
