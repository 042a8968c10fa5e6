use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use inbound_engine::Engine;
use tokio::net::TcpListener;

use crate::error::ApiError;
use crate::guard::{Access, guard};
use crate::handlers;
use crate::peer::Peer;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Where the API listens: a TCP address, or a Unix socket (`unix:///run/inbound.sock`)
/// whose file permissions (owner only) decide who may call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenError {
    #[error(
        "'{0}' is not an address to listen on; give HOST:PORT (127.0.0.1:8080) or unix:///absolute/path.sock"
    )]
    Bad(String),
    #[error("the socket path in '{0}' must be absolute, like unix:///run/user/1000/inbound.sock")]
    RelativeSocket(String),
}

impl std::str::FromStr for Listen {
    type Err = ListenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix://") {
            let path = PathBuf::from(path);
            if !path.is_absolute() {
                return Err(ListenError::RelativeSocket(s.to_owned()));
            }
            return Ok(Self::Unix(path));
        }
        s.parse()
            .map(Self::Tcp)
            .map_err(|_| ListenError::Bad(s.to_owned()))
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(a) => write!(f, "{a}"),
            Self::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

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
    #[error("cannot listen on the socket {path}: {reason}")]
    Socket { path: PathBuf, reason: String },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

/// What the handlers reach: the engine, and the watcher that runs automations when
/// the agent has a team login.
#[derive(Clone)]
pub struct ApiState {
    pub engine: Engine,
    /// Asked at each request: a desktop logs in and out while the API runs.
    automations: std::sync::Arc<dyn Fn() -> Option<inbound_inbox::Watcher> + Send + Sync>,
}

impl axum::extract::FromRef<ApiState> for Engine {
    fn from_ref(s: &ApiState) -> Engine {
        s.engine.clone()
    }
}

impl ApiState {
    /// Without a team login: `/automations` answers that one is needed.
    pub fn engine_only(engine: Engine) -> Self {
        Self::with_automations(engine, || None)
    }

    /// Automations run by `watcher`.
    pub fn with_watcher(engine: Engine, watcher: inbound_inbox::Watcher) -> Self {
        Self::with_automations(engine, move || Some(watcher.clone()))
    }

    /// Automations run by whichever watcher `source` gives at the time (none: no login).
    pub fn with_automations(
        engine: Engine,
        source: impl Fn() -> Option<inbound_inbox::Watcher> + Send + Sync + 'static,
    ) -> Self {
        Self {
            engine,
            automations: std::sync::Arc::new(source),
        }
    }

    pub(crate) fn watcher(&self) -> Option<inbound_inbox::Watcher> {
        (self.automations)()
    }
}

/// The API's routes under `/api/v1`, guarded by `access`.
pub fn router(state: ApiState, access: Access) -> Router {
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
            "/downloads/{download_id}/speed_limit",
            axum::routing::put(handlers::speed_limit),
        )
        .route(
            "/downloads/{download_id}/files",
            axum::routing::put(handlers::choose_files),
        )
        .route(
            "/settings/bandwidth_schedule",
            get(crate::schedule::get_schedule).put(crate::schedule::put_schedule),
        )
        .route(
            "/settings/fifo_mode",
            get(crate::fifo::get_fifo)
                .put(crate::fifo::put_fifo)
                .post(crate::fifo::put_fifo),
        )
        .route(
            "/settings/download_rate_limit",
            get(crate::rate_limit::get_rate_limit)
                .put(crate::rate_limit::put_rate_limit)
                .post(crate::rate_limit::put_rate_limit),
        )
        .merge(crate::not_offered::routes())
        .route(
            "/settings/after_download",
            get(crate::after::get_after).put(crate::after::put_after),
        )
        .route(
            "/automations",
            get(crate::automations::list).post(crate::automations::create),
        )
        .route(
            "/automations/{automation_id}",
            get(crate::automations::get_one)
                .put(crate::automations::update)
                .delete(crate::automations::delete),
        )
        // As the MASV Agent documents them.
        .route(
            "/automations/portal_download",
            post(crate::masv_automations::create_portal),
        )
        .route(
            "/automations/portal_download/{automation_id}",
            put(crate::masv_automations::update_portal)
                .delete(crate::masv_automations::delete_portal),
        )
        .route(
            "/automations/all_portals_download",
            post(crate::masv_automations::create_all_portals),
        )
        .route(
            "/automations/all_portals_download/{automation_id}",
            put(crate::masv_automations::update_all_portals)
                .delete(crate::masv_automations::delete_all_portals),
        )
        .route("/openapi.json", get(openapi))
        .with_state(state);
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

/// Serves the API on every address of `listen` until `shutdown` resolves. Each is
/// bound before any is served, so a taken port or a bad socket path is reported and
/// nothing listens. Refuses a non-loopback address unless `access` requires a token.
pub async fn serve(
    state: ApiState,
    listen: &[Listen],
    access: Access,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    let mut bound = Vec::new();
    for l in listen {
        bound.push(Bound::bind(l, &access).await?);
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let mut served = tokio::task::JoinSet::new();
    for b in bound {
        let app = router(state.clone(), access.clone());
        served.spawn(b.serve(app, stop.clone().cancelled_owned()));
    }
    let stopper = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.cancel();
    });
    let mut outcome = Ok(());
    while let Some(done) = served.join_next().await {
        // One stopping (it failed) stops the others.
        stop.cancel();
        match done {
            Ok(Err(e)) if outcome.is_ok() => outcome = Err(e),
            Err(e) if outcome.is_ok() => {
                outcome = Err(AgentError::Serve(std::io::Error::other(e.to_string())));
            }
            _ => {}
        }
    }
    outcome
}

/// A listener bound and not yet served.
enum Bound {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(crate::unix_socket::SocketListener),
}

impl Bound {
    async fn bind(listen: &Listen, access: &Access) -> Result<Self, AgentError> {
        match listen {
            Listen::Tcp(addr) => {
                let addr = *addr;
                if !addr.ip().is_loopback() && !access.token_required() {
                    return Err(AgentError::PublicWithoutToken(addr));
                }
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| AgentError::Bind { addr, source })?;
                tracing::info!(%addr, "agent API listening");
                Ok(Self::Tcp(listener))
            }
            #[cfg(unix)]
            Listen::Unix(path) => Ok(Self::Unix(
                crate::unix_socket::SocketListener::bind(path.clone()).await?,
            )),
            #[cfg(not(unix))]
            Listen::Unix(path) => Err(AgentError::Socket {
                path: path.clone(),
                reason: "Unix sockets need Linux or macOS".into(),
            }),
        }
    }

    async fn serve(
        self,
        app: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AgentError> {
        // Each connection is asked who it is from when accepted (crate::peer).
        let app = app.into_make_service_with_connect_info::<Peer>();
        match self {
            Self::Tcp(listener) => axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(AgentError::Serve),
            #[cfg(unix)]
            Self::Unix(socket) => socket.serve(app, shutdown).await,
        }
    }
}
