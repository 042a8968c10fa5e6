//! Windows: the TCP table with each connection's owning process (`GetExtendedTcpTable`,
//! through `netstat2`); the caller's row is the one whose local end is the connection's
//! remote end and whose remote end is ours, and its process's user (its token's SID,
//! through `sysinfo`) is compared with this process's.

use std::net::SocketAddr;

use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use super::Account;

pub(super) fn account_of(remote: SocketAddr, local: SocketAddr) -> Account {
    // 0 is no process (Wine reports it for every connection; Windows for one closing).
    let Some(pid) = owning_pid(remote, local).filter(|&p| p != 0) else {
        return Account::Unknown;
    };
    let ours = Pid::from_u32(std::process::id());
    let theirs = Pid::from_u32(pid);
    let mut system = match System::new() {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "cannot look at processes");
            return Account::Unknown;
        }
    };
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[ours, theirs]),
        false,
        ProcessRefreshKind::nothing().with_user(UpdateKind::Always),
    );
    let user = |pid| system.process(pid).and_then(|p| p.user_id()).cloned();
    match (user(ours), user(theirs)) {
        (Some(a), Some(b)) if a == b => Account::Ours,
        // Another account's process, or one whose user this account may not read
        // (Windows lets a user read only their own processes' tokens).
        (Some(_), _) => Account::Other("another Windows account".into()),
        (None, _) => Account::Unknown,
    }
}

/// The process that owns the connection from `from` to `to`.
fn owning_pid(from: SocketAddr, to: SocketAddr) -> Option<u32> {
    let families = AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6;
    let sockets = match netstat2::get_sockets_info(families, ProtocolFlags::TCP) {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "the TCP table is unreadable");
            return None;
        }
    };
    sockets.into_iter().find_map(|s| {
        let ProtocolSocketInfo::Tcp(tcp) = &s.protocol_socket_info else {
            return None;
        };
        let local = SocketAddr::new(tcp.local_addr.to_canonical(), tcp.local_port);
        let remote = SocketAddr::new(tcp.remote_addr.to_canonical(), tcp.remote_port);
        let canon = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
        (local == canon(from) && remote == canon(to))
            .then(|| s.associated_pids.first().copied())
            .flatten()
    })
}
