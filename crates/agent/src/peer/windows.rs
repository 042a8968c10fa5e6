//! Windows: the TCP table with each connection's owning process (`GetExtendedTcpTable`,
//! through `netstat2`); the caller's row is the one whose local end is the connection's
//! remote end and whose remote end is ours, and its process's user (its token's SID,
//! through `sysinfo`) is compared with this process's.
//!
//! The table is read once for many connections: a burst of them (a script's two
//! hundred requests) shares one reading taken after they connected, instead of each
//! reading the whole table. Under Wine it is not read at all: Wine gives no owning
//! process (0) for any connection, and building its table takes seconds of CPU.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use super::Account;

/// Wine keeps its own settings under `HKLM\Software\Wine`; Windows has no such key.
static UNDER_WINE: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
    winreg::RegKey::predef(winreg::enums::HKEY_LOCAL_MACHINE)
        .open_subkey(r"Software\Wine")
        .is_ok()
});

/// The last reading of the table: when, and each connection's ends and owning process.
static TABLE: Mutex<Option<(Instant, Vec<(SocketAddr, SocketAddr, u32)>)>> = Mutex::new(None);

pub(super) fn account_of(remote: SocketAddr, local: SocketAddr) -> Account {
    if *UNDER_WINE {
        return Account::Unknown;
    }
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

/// The process that owns the connection from `from` to `to`: from the last reading of
/// the table if it was taken after this was asked (so after the connection was made:
/// an older row with the same ends may be an earlier connection's), else from a new
/// reading (one at a time: lookups waiting meanwhile find theirs in it).
fn owning_pid(from: SocketAddr, to: SocketAddr) -> Option<u32> {
    let (from, to) = (canonical(from), canonical(to));
    let asked = Instant::now();
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    let find = |rows: &[(SocketAddr, SocketAddr, u32)]| {
        rows.iter()
            .find(|(l, r, _)| *l == from && *r == to)
            .map(|(_, _, pid)| *pid)
    };
    if let Some((taken, rows)) = table.as_ref()
        && *taken >= asked
        && let Some(pid) = find(rows)
    {
        return Some(pid);
    }
    let rows = read_table()?;
    let pid = find(&rows);
    *table = Some((Instant::now(), rows));
    pid
}

fn read_table() -> Option<Vec<(SocketAddr, SocketAddr, u32)>> {
    let families = AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6;
    let sockets = match netstat2::get_sockets_info(families, ProtocolFlags::TCP) {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "the TCP table is unreadable");
            return None;
        }
    };
    Some(
        sockets
            .into_iter()
            .filter_map(|s| {
                let ProtocolSocketInfo::Tcp(tcp) = &s.protocol_socket_info else {
                    return None;
                };
                Some((
                    canonical(SocketAddr::new(tcp.local_addr, tcp.local_port)),
                    canonical(SocketAddr::new(tcp.remote_addr, tcp.remote_port)),
                    s.associated_pids.first().copied().unwrap_or(0),
                ))
            })
            .collect(),
    )
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}
