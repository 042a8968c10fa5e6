use std::net::SocketAddr;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use inbound_engine::Engine;
use tokio::net::TcpListener;

use crate::error::ApiError;
use crate::guard::{Access, guard};
use crate::handlers;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "refusing to listen on {0}, which other machines can reach, without a token; pass --token-file (or listen on 127.0.0.1)"
    )]
    PublicWithoutToken(SocketAddr),
    #[error("cannot listen on {addr}: {source}; is another agent (or MASV Agent) using the port?")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

/// The API's routes under `/api/v1`, guarded by `access`.
pub fn router(engine: Engine, access: Access) -> Router {
    let api = Router::new()
        .route(
            "/downloads",
            post(handlers::start)
                .get(handlers::list)
                .delete(handlers::delete_many),
        )
        .route(
            "/downloads/{download_id}",
            get(handlers::get_one).delete(handlers::delete_one),
        )
        .route("/downloads/{download_id}/pause", post(handlers::pause))
        .route("/downloads/{download_id}/resume", post(handlers::resume))
        .route(
            "/settings/bandwidth_schedule",
            get(crate::schedule::get_schedule).put(crate::schedule::put_schedule),
        )
        .route("/openapi.json", get(openapi))
        .with_state(engine);
    Router::new()
        .nest("/api/v1", api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(access, guard))
}

async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi_json(),
    )
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route; the API lives under /api/v1",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// Serves the API until `shutdown` resolves. Refuses a non-loopback address unless
/// `access` has a token.
pub async fn serve(
    engine: Engine,
    addr: SocketAddr,
    access: Access,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    if !addr.ip().is_loopback() && !access.has_token() {
        return Err(AgentError::PublicWithoutToken(addr));
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| AgentError::Bind { addr, source })?;
    tracing::info!(%addr, "agent API listening");
    axum::serve(listener, router(engine, access))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(AgentError::Serve)
}
