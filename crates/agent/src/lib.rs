//! A MASV-Agent-compatible REST API (`/api/v1/downloads`) over the Inbound engine, so
//! scripts written for the MASV Agent work unchanged. Safer by default: loopback only,
//! DNS-rebinding and cross-origin requests refused, and a bearer token required before
//! it listens anywhere else.

mod after;
mod automations;
mod error;
mod fifo;
mod guard;
mod handlers;
mod openapi;
mod schedule;
mod server;
pub mod token;
#[cfg(unix)]
mod unix_socket;
mod views;

pub use error::ApiError;
pub use guard::Access;
pub use openapi::openapi_json;
pub use server::{AgentError, ApiState, DEFAULT_LISTEN, Listen, ListenError, router, serve};
