//! The simulator unreachable for a while, as after a Wi-Fi change, a VPN drop or a
//! closed laptop lid: new connections are closed as soon as they are accepted, requests
//! on connections already open get no answer (the connection breaks), and bodies being
//! sent are cut.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::net::{TcpListener, TcpStream};

use crate::server::SimState;

/// Accepts connections, closing those that arrive during an outage.
pub(crate) struct OutageListener {
    pub inner: TcpListener,
    pub state: Arc<SimState>,
}

impl axum::serve::Listener for OutageListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) if !self.state.faults.in_outage() => return (stream, addr),
                // Dropped: the client sees its connection closed.
                Ok(_) => {
                    self.state
                        .faults
                        .injected
                        .outage_refusals
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "simulator accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A request on a connection opened before the outage: the connection breaks.
pub(crate) async fn break_during_outage(
    State(state): State<Arc<SimState>>,
    req: Request,
    next: Next,
) -> Response {
    if !state.faults.in_outage() {
        return next.run(req).await;
    }
    state
        .faults
        .injected
        .outage_refusals
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    broken()
}

/// A response whose body fails at once: the server closes the connection mid-answer.
fn broken() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<bytes::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated outage",
        ))
    });
    let mut resp = Response::new(Body::from_stream(failing));
    *resp.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
    resp
}
