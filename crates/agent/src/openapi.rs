use utoipa::OpenApi;

use crate::after::{self, AfterDownloadBody};
use crate::automations::{self, AutomationBody, AutomationView, KindName};
use crate::error::ErrorBody;
use crate::fifo;
use crate::handlers;
use crate::masv_automations::{self, AllPortalsDownloadBody, PortalDownloadBody};
use crate::rate_limit::{self, DayHours, RateLimitBody};
use crate::schedule::{
    self, DayName, InForce, LimitRuleBody, ScheduleAnswer, ScheduleBody, WindowBody,
};
use crate::views::{
    AgentState, Deleted, Download, DownloadFile, DownloadWithFiles, FileStateView, HashView,
    StartDownload,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Inbound agent API",
        description = "MASV-Agent-compatible download routes served by Inbound, on loopback (and on a Unix socket with `--listen unix:///path.sock`). Who may call: requests whose Host is not a loopback name or that carry a foreign Origin are refused (403). A request with `Authorization: Bearer <token>` (the token made on the agent's first start, kept owner-only in its data folder, printed by `inbound agent --show-token`) may do everything. Without the token, the kernel is asked which account is calling (the peer's uid on the Unix socket; the owner of the connection in the system's TCP table on Linux and Windows): the agent's own account (or root) may do everything, as MASV Agent scripts expect; another account gets 401. A caller that cannot be identified (macOS over TCP) may download only into the allowed folders (`--allow-dest`, by default the user's Downloads) and not set `uid`/`gid`, automations, after-download hooks or `remove_files` (403 `token_required` or `dst_folder_not_allowed`). Started with `--token-file`, every request needs that token.",
    ),
    servers((url = "/api/v1")),
    paths(
        handlers::start,
        handlers::list,
        handlers::get_one,
        handlers::pause,
        handlers::resume,
        handlers::speed_limit,
        handlers::choose_files,
        handlers::delete_one,
        handlers::delete_many,
        automations::list,
        automations::create,
        automations::get_one,
        automations::update,
        automations::delete,
        masv_automations::create_portal,
        masv_automations::update_portal,
        masv_automations::delete_portal,
        masv_automations::create_all_portals,
        masv_automations::update_all_portals,
        masv_automations::delete_all_portals,
        after::get_after,
        after::put_after,
        schedule::get_schedule,
        schedule::put_schedule,
        fifo::get_fifo,
        fifo::put_fifo,
        rate_limit::get_rate_limit,
        rate_limit::put_rate_limit,
    ),
    components(schemas(handlers::SpeedLimit, fifo::FifoModeBody, handlers::ChosenFiles, StartDownload, Download, DownloadWithFiles, DownloadFile, HashView, AgentState, FileStateView, Deleted, ErrorBody, ScheduleBody, LimitRuleBody, WindowBody, DayName, ScheduleAnswer, InForce, AutomationBody, AutomationView, KindName, PortalDownloadBody, AllPortalsDownloadBody, AfterDownloadBody, RateLimitBody, DayHours)),
    tags(
        (name = "downloads", description = "Download MASV packages"),
        (name = "automations", description = "Download what arrives in a portal, or in every portal of the team (needs `inbound team login`)"),
        (name = "settings", description = "The bandwidth schedule (also in the MASV Agent's shape, `/settings/download_rate_limit`), how many downloads run at once, and what runs after each package completes. The MASV Agent's upload rate limit, multiconnect and disk settings (`/settings/upload_rate_limit`, `/settings/multiconnect…`, `/settings/disk_config_default`, `/settings/disk_status`) answer 501 `not_supported` with what to use instead."),
    )
)]
struct ApiDoc;

/// The OpenAPI document, as served at `/api/v1/openapi.json`.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
