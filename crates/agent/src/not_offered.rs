//! The MASV Agent's documented settings that have no meaning for a program that only
//! receives, or that Inbound decides for itself: each answers 501 with what to use
//! instead, so a script written for the MASV Agent stops with a reason, not a bare 404.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::any;

use crate::error::ApiError;
use crate::server::ApiState;

const UPLOAD: &str = "Inbound only receives, so it has no upload rate limit; the download limit and its schedule are at /api/v1/settings/download_rate_limit";
const MULTICONNECT: &str = "Inbound does not spread a transfer over several network interfaces: it downloads over the route the system chooses, with several connections per download (`inbound agent --connections N`, adaptive by default)";
const DISK: &str = "Inbound has no disk readers and writers to set: each file has one writer that batches its syncs. How many downloads run at once is /api/v1/settings/fifo_mode; connections per download is `inbound agent --connections N`";

fn refused(why: &'static str) -> ApiError {
    ApiError::new(StatusCode::NOT_IMPLEMENTED, "not_supported", why)
}

/// The routes, every method of each answering 501 with its reason.
pub(crate) fn routes() -> Router<ApiState> {
    let mut router = Router::new();
    for (path, why) in [
        ("/settings/upload_rate_limit", UPLOAD),
        ("/settings/multiconnect", MULTICONNECT),
        ("/settings/multiconnect/status", MULTICONNECT),
        ("/settings/multiconnect/ifaces/{iface_id}", MULTICONNECT),
        ("/settings/disk_config_default", DISK),
        ("/settings/disk_status", DISK),
        ("/settings/disk_config", DISK),
    ] {
        router = router.route(path, any(move || async move { refused(why) }));
    }
    router
}
