//! Network changes as the kernel reports them (Linux rtnetlink: a link up or down, an
//! address or a route added or removed), as when Wi-Fi joins a network, a VPN comes up
//! or a cable is plugged in. Each one wakes the downloads waiting for the network, so
//! they try at once instead of at the end of their backoff; if the network is still
//! down they simply wait again. Without rtnetlink (other systems, a sandbox that denies
//! it) downloads still retry on their own and whenever another one gets through.

use std::sync::Weak;

use tokio_util::sync::CancellationToken;

use crate::engine::Shared;

/// Watches until the engine shuts down. Holds the engine weakly: a dropped engine's
/// data folder is not kept locked by this task.
pub(crate) async fn watch(shared: Weak<Shared>, shutdown: CancellationToken) {
    #[cfg(target_os = "linux")]
    {
        let wake = || {
            if let Some(shared) = shared.upgrade() {
                shared.network_back.notify_waiters();
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => {}
            result = linux::changes(wake) => {
                if let Err(e) = result {
                    tracing::info!(error = %e, "network changes are not watched; downloads retry on their own");
                }
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    drop((shared, shutdown));
}

#[cfg(target_os = "linux")]
mod linux {
    use netlink_sys::{AsyncSocket, AsyncSocketExt, SocketAddr, TokioSocket, protocols};

    /// Links, IPv4 and IPv6 addresses and routes (`linux/rtnetlink.h` multicast groups).
    const GROUPS: u32 = (libc::RTMGRP_LINK
        | libc::RTMGRP_IPV4_IFADDR
        | libc::RTMGRP_IPV6_IFADDR
        | libc::RTMGRP_IPV4_ROUTE
        | libc::RTMGRP_IPV6_ROUTE) as u32;

    /// Calls `changed` for every notification, until the socket fails.
    pub(super) async fn changes(changed: impl Fn()) -> std::io::Result<()> {
        let mut socket = TokioSocket::new(protocols::NETLINK_ROUTE)?;
        socket.socket_mut().bind(&SocketAddr::new(0, GROUPS))?;
        loop {
            // The content does not matter: any change is worth a try.
            socket.recv_from_full().await?;
            tracing::debug!("the network changed; waiting downloads try now");
            changed();
        }
    }
}
