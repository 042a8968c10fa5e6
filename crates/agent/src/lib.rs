//! A MASV-Agent-compatible REST API (`/api/v1/downloads`) over the Inbound engine, so
//! scripts written for the MASV Agent work unchanged. Safer by default: loopback only,
//! DNS-rebinding and cross-origin requests refused, other accounts of the machine
//! refused unless they send the agent's token (the kernel says who calls: `peer`), and
//! the token required before it listens anywhere else.

mod after;
mod automations;
mod caller;
mod error;
mod fifo;
mod guard;
mod handlers;
mod masv_automations;
mod not_offered;
mod openapi;
mod peer;
pub mod provisioning;
mod rate_limit;
mod schedule;
mod server;
pub mod token;
#[cfg(unix)]
mod unix_socket;
mod views;

pub use caller::Caller;
pub use error::ApiError;
pub use guard::Access;
pub use openapi::openapi_json;
pub use peer::{Account, Peer};
pub use server::{AgentError, ApiState, DEFAULT_LISTEN, Listen, ListenError, router, serve};
