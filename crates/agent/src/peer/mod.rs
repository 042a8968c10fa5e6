//! Who is calling: the account behind each connection, asked of the kernel when the
//! connection is accepted. On a Unix socket the kernel says it (`SO_PEERCRED`); on
//! loopback TCP the connection's other end is looked up in the system's socket table,
//! whose entries carry their owner (`/proc/net/tcp` on Linux; on Windows the owning
//! process of `GetExtendedTcpTable`'s row, whose user is compared with ours). Where
//! neither works (macOS over TCP, a connection closed before it was looked up) the
//! caller is [`Account::Unknown`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::net::TcpListener;
use tokio::sync::OnceCell;

/// The account a connection comes from, as far as the kernel tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// The agent's own user, or the administrator (root), who could read its token.
    Ours,
    /// Another account of this machine, named for messages (`uid 1001`).
    Other(String),
    /// Not known: the platform cannot say, or the connection was gone.
    Unknown,
}

/// One accepted connection: where it comes from and whose it is. Cloned into each of
/// its requests; the account is asked of the system once, on the first request that
/// needs it, off the accept loop (a socket table can be long to read).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The other end's address; `None` on a Unix socket.
    pub remote: Option<SocketAddr>,
    local: Option<SocketAddr>,
    account: Arc<OnceCell<Account>>,
}

impl Peer {
    /// A connection whose account is already known (a Unix socket's, a test's).
    pub fn known(remote: Option<SocketAddr>, account: Account) -> Self {
        Self {
            remote,
            local: None,
            account: Arc::new(OnceCell::new_with(Some(account))),
        }
    }

    /// A connection from this machine: a Unix socket, or TCP from a loopback address.
    pub fn is_local(&self) -> bool {
        self.remote
            .is_none_or(|a| a.ip().to_canonical().is_loopback())
    }

    /// Whose the connection is, as the system says.
    pub async fn account(&self) -> Account {
        self.account
            .get_or_init(|| async {
                match (self.remote, self.local) {
                    (Some(remote), Some(local)) if self.is_local() => {
                        tokio::task::spawn_blocking(move || tcp_owner::account_of(remote, local))
                            .await
                            .unwrap_or(Account::Unknown)
                    }
                    _ => Account::Unknown,
                }
            })
            .await
            .clone()
    }
}

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Peer {
            remote: Some(*stream.remote_addr()),
            local: stream.io().local_addr().ok(),
            account: Arc::new(OnceCell::new()),
        }
    }
}

#[cfg(unix)]
impl Connected<IncomingStream<'_, tokio::net::UnixListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, tokio::net::UnixListener>) -> Self {
        let account = match stream.io().peer_cred() {
            Ok(cred) => unix_account(cred.uid()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell who is calling on the socket");
                Account::Unknown
            }
        };
        Peer::known(None, account)
    }
}

/// `uid` as seen from this process: ours, root's, or another account's.
#[cfg(unix)]
fn unix_account(uid: u32) -> Account {
    let ours = rustix::process::geteuid().as_raw();
    if uid == ours || uid == 0 {
        Account::Ours
    } else {
        Account::Other(format!("uid {uid}"))
    }
}

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod tcp_owner;

#[cfg(windows)]
#[path = "windows.rs"]
mod tcp_owner;

#[cfg(not(any(target_os = "linux", windows)))]
mod tcp_owner {
    //! macOS: the owner of a TCP connection is known only by walking every process's
    //! descriptors (libproc), not done here; callers over TCP are not identified, so
    //! without the token they get only what is safe for anyone (see `caller.rs`).

    use std::net::SocketAddr;

    use super::Account;

    pub(super) fn account_of(_remote: SocketAddr, _local: SocketAddr) -> Account {
        Account::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_means_a_socket_or_a_loopback_address() {
        let peer = |remote: Option<&str>| {
            Peer::known(remote.map(|r| r.parse().unwrap()), Account::Unknown)
        };
        assert!(peer(None).is_local());
        assert!(peer(Some("127.0.0.1:5000")).is_local());
        assert!(peer(Some("[::1]:5000")).is_local());
        assert!(peer(Some("[::ffff:127.0.0.1]:5000")).is_local());
        assert!(!peer(Some("192.168.1.20:5000")).is_local());
    }

    /// A real connection on this machine, from this process: the kernel says it is
    /// ours (on platforms that can tell).
    #[tokio::test]
    async fn a_connection_from_this_process_is_ours() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (server, remote) = listener.accept().await.unwrap();
        assert_eq!(remote, client.local_addr().unwrap());
        let account = tcp_owner::account_of(remote, server.local_addr().unwrap());
        if cfg!(target_os = "linux") {
            assert_eq!(account, Account::Ours);
        } else if cfg!(windows)
            && std::path::Path::new(r"C:\windows\system32\wineboot.exe").exists()
        {
            // Wine reports no owning process for any connection (real Windows does).
            assert_eq!(account, Account::Unknown);
        } else if cfg!(windows) {
            assert_eq!(account, Account::Ours);
        } else {
            assert_eq!(account, Account::Unknown);
        }
    }
}
