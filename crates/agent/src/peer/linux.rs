//! Linux: the kernel's TCP tables list every socket with its owner's uid. The
//! caller's socket is the entry whose local end is the connection's remote end and
//! whose remote end is ours.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Account, unix_account};

pub(super) fn account_of(remote: SocketAddr, local: SocketAddr) -> Account {
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = match std::fs::read_to_string(table) {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(table, error = %e, "socket table unreadable");
                continue;
            }
        };
        if let Some(uid) = owner_in(&text, remote, local) {
            return unix_account(uid);
        }
    }
    Account::Unknown
}

/// The uid of the entry of `table` (the text of `/proc/net/tcp` or `tcp6`) going
/// from `from` to `to`.
pub(super) fn owner_in(table: &str, from: SocketAddr, to: SocketAddr) -> Option<u32> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, rem, uid) = (fields.get(1)?, fields.get(2)?, fields.get(7)?);
        (same(parse_addr(local)?, from) && same(parse_addr(rem)?, to))
            .then(|| uid.parse().ok())
            .flatten()
    })
}

/// Equal once IPv4-mapped IPv6 addresses are taken as the IPv4 they map.
fn same(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
}

/// `0100007F:1F90` or the 32-digit IPv6 form: the address as the kernel keeps it
/// (network order, printed as native-endian 32-bit words), then the port in hex.
fn parse_addr(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = ip.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callers_entry_is_found_in_either_table() {
        // A server on 127.0.0.1:8080 (0x1F90), a client on port 40000 (0x9C40) of
        // uid 1001; the server's own end (uid 0) must not be taken for the caller's.
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n\
           1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1\n\
           2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1001        0 3 1 0 20 4 30 10 -1\n";
        let client: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let server: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(owner_in(v4, client, server), Some(1001));
        assert_eq!(owner_in(v4, server, client), Some(0));
        assert_eq!(
            owner_in(v4, "127.0.0.1:40001".parse().unwrap(), server),
            None
        );
        // A dual-stack client socket: ::ffff:127.0.0.1 in tcp6.
        let v6 = "  sl  local_address                         remote_address                        st\n\
           0: 0000000000000000FFFF00000100007F:9C40 0000000000000000FFFF00000100007F:1F90 01 00000000:00000000 00:00000000 00000000  1002        0 4\n";
        assert_eq!(owner_in(v6, client, server), Some(1002));
        // ::1
        let lo6 = "header\n 0: 00000000000000000000000001000000:9C40 00000000000000000000000001000000:1F90 01 0:0 0:0 0  1003 0 5\n";
        assert_eq!(
            owner_in(
                lo6,
                "[::1]:40000".parse().unwrap(),
                "[::1]:8080".parse().unwrap()
            ),
            Some(1003)
        );
        assert_eq!(owner_in("header\n 0: garbage\n", client, server), None);
    }
}
