//! The router: every route of the HTTP side, and the JSON answers for unknown routes
//! and wrong methods.

pub(crate) mod io;
mod keys;
mod oauth;
mod ops;
mod token_life;
mod tokens;
mod tree;
mod users;
mod workspaces;

use axum::Router;
use axum::routing::{any, delete, get, post, put};

use crate::AppState;
use crate::error::ApiError;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/a/openapi.json", get(ops::openapi))
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route("/a/auth/token/personal", post(tokens::create_personal_token))
        .route("/a/auth/token/impersonate", post(tokens::impersonate_token))
        .route("/a/auth/token/document", post(tokens::create_document_token))
        .route("/a/auth/tokens", post(tokens::list_tokens))
        .route("/a/auth/tokens/leaked", post(token_life::report_leaked))
        .route("/a/auth/tokens/{TokenId}", delete(tokens::revoke_token))
        .route("/a/auth/tokens/{TokenId}/rotate", post(token_life::rotate_token))
        .route("/a/auth/tokens/{TokenId}/activity", get(token_life::token_activity))
        .route("/a/auth/token-policy", get(token_life::get_policy).put(token_life::put_policy))
        .route("/a/auth/keys", post(keys::register_key))
        .route("/a/auth/keys/list", post(keys::list_keys))
        .route("/a/auth/keys/{KeyId}", delete(keys::revoke_key))
        .route("/a/users", get(users::list_users).post(users::create_user))
        .route("/a/users/{login}", get(users::get_user).patch(users::update_user).delete(users::delete_user))
        .route("/a/workspaces", get(workspaces::list_workspaces).post(workspaces::create_workspace))
        .route("/a/workspaces/{slug}", get(workspaces::get_workspace).delete(workspaces::delete_workspace))
        .route("/a/workspaces/{slug}/grants/{login}", put(workspaces::grant).delete(workspaces::revoke_grant))
        .route("/a/tree", get(tree::list_root))
        .route("/a/tree/", get(tree::list_root))
        .route("/a/tree/create", post(tree::create_node))
        .route("/a/tree/move", post(tree::move_node))
        .route("/a/tree/copy", post(tree::copy_node))
        .route("/a/tree/{*path}", get(tree::stat_node).delete(tree::delete_node))
        .route("/a/nodes/{uuid}", get(tree::stat_by_uuid))
        .route("/io/{*path}", get(io::get_file).head(io::get_file).put(io::put_file).delete(io::delete_file))
        .route("/dav", any(crate::dav::serve))
        .route("/dav/", any(crate::dav::serve))
        .route("/dav/{*path}", any(crate::dav::serve))
        // The web console (`/` and `/assets/...`): static pages, not part of the REST API.
        .merge(crate::console::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::s3::dispatch))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::observe::observe))
        .layer(axum::middleware::from_fn(crate::unread::close_unread))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "this route does not take that method",
    )
}

#[cfg(test)]
mod tests {
    /// Every route registered above, with each of its methods, is in the OpenAPI
    /// document served at `/a/openapi.json`, and the document has nothing else.
    #[test]
    fn the_openapi_document_covers_every_route() {
        let source = include_str!("mod.rs");
        let document: serde_json::Value =
            serde_json::from_str(include_str!("../../../../docs/openapi.json")).unwrap_or_else(|e| panic!("{e}"));
        let paths = document["paths"].as_object().unwrap_or_else(|| panic!("no paths"));
        let mut routed = std::collections::BTreeSet::new();
        for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
            let path = line.trim_start_matches(".route(\"").split('"').next().unwrap_or_default();
            let path = path.replace("{*path}", "{workspace}/{path}");
            for method in ["get", "head", "put", "post", "patch", "delete"] {
                if line.contains(&format!("{method}(")) {
                    let documented = paths.get(&path).and_then(|item| item.get(method));
                    assert!(documented.is_some(), "{} {path} is not in docs/openapi.json", method.to_uppercase());
                    routed.insert(path.clone());
                }
            }
        }
        assert!(routed.len() > 15, "the route parser found only {routed:?}");
        for path in paths.keys() {
            let known = routed.contains(path)
                || (path == "/a/tree/{workspace}" && routed.contains("/a/tree/{workspace}/{path}"));
            assert!(known, "docs/openapi.json documents {path}, which no route serves");
        }
    }
}
