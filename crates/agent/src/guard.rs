//! Who may talk to the API: the checks the MASV Agent lacks.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::caller::Caller;
use crate::error::ApiError;
use crate::peer::{Account, Peer};

/// Access rules.
///
/// - Browser requests (`Origin` present) are refused unless their origin is listed.
/// - A request carrying the token (`Authorization: Bearer TOKEN`) is trusted.
/// - With [`Access::token_required`] that is the only way in.
/// - Otherwise (the default, as the MASV Agent's scripts send no token) a request
///   without it must be addressed to a loopback name (so a web page cannot reach the
///   API through DNS rebinding) and come from this machine; then the kernel's word on
///   the caller decides: the agent's own account (or root) is trusted, another account
///   is refused, and one that cannot be identified is restricted
///   ([`Caller::Restricted`]: downloads into `allowed_dest` only).
#[derive(Clone, Default)]
pub struct Access {
    token: Option<Arc<str>>,
    token_required: bool,
    allowed_origins: Arc<[String]>,
    allowed_dest: Arc<[PathBuf]>,
}

impl Access {
    /// Every request must carry `token` (when there is one).
    pub fn new(token: Option<String>, allowed_origins: Vec<String>) -> Self {
        let token = token.filter(|t| !t.is_empty()).map(Arc::from);
        Self {
            token_required: token.is_some(),
            token,
            allowed_origins: allowed_origins.into(),
            allowed_dest: Arc::new([]),
        }
    }

    /// The agent's own account may leave out `token`; other accounts must send it; a
    /// caller that cannot be identified may only download into `allowed_dest`.
    pub fn owner_or_token(
        token: Option<String>,
        allowed_origins: Vec<String>,
        allowed_dest: Vec<PathBuf>,
    ) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()).map(Arc::from),
            token_required: false,
            allowed_origins: allowed_origins.into(),
            allowed_dest: allowed_dest.into(),
        }
    }

    /// Every request must carry the token.
    pub fn token_required(&self) -> bool {
        self.token_required
    }

    async fn check(&self, headers: &HeaderMap, peer: Option<&Peer>) -> Result<Caller, ApiError> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            if !self.allowed_origins.iter().any(|o| o == origin) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "origin_not_allowed",
                    "requests from web pages are refused; call the API from a script or allow this origin with --allow-origin",
                ));
            }
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match (&self.token, given) {
            (Some(expected), Some(given)) => {
                return if constant_time_eq::constant_time_eq(given.as_bytes(), expected.as_bytes())
                {
                    Ok(Caller::Trusted)
                } else {
                    Err(unauthorized(
                        "wrong bearer token; send the header Authorization: Bearer <token>",
                    ))
                };
            }
            (Some(_), None) if self.token_required => {
                return Err(unauthorized(
                    "missing bearer token; send the header Authorization: Bearer <token>",
                ));
            }
            _ => {}
        }
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !is_loopback_host(host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "host_not_allowed",
                "the Host header must name this machine (localhost, 127.0.0.1 or [::1])",
            ));
        }
        let account = match peer {
            Some(p) if !p.is_local() => {
                return Err(unauthorized(
                    "calls from other machines need the token; send the header Authorization: Bearer <token>",
                ));
            }
            Some(p) => p.account().await,
            None => Account::Unknown,
        };
        match &account {
            Account::Ours => Ok(Caller::Trusted),
            Account::Unknown => Ok(Caller::Restricted(self.allowed_dest.clone())),
            Account::Other(who) => Err(unauthorized(&format!(
                "this agent belongs to another account of this machine; calls from {who} need its token: send the header Authorization: Bearer <token> (its user prints it with `inbound agent --show-token`)"
            ))),
        }
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message.to_owned())
}

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub async fn guard(State(access): State<Access>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|ConnectInfo(p)| p);
    match access.check(req.headers(), peer).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => {
            tracing::warn!(code = e.body.code, "request refused");
            e.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn loopback_names_only() {
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:8080",
            "127.1.2.3",
            "[::1]:8080",
            "[::1]",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:8080",
            "10.0.0.1:8080",
            "localhost.evil.example",
            "[::2]:80",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    impl Access {
        /// `check`, waited on (the peers here are known: nothing is looked up).
        fn check_now(&self, headers: &HeaderMap, peer: Option<&Peer>) -> Result<Caller, ApiError> {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(self.check(headers, peer))
        }
    }

    fn peer(remote: &str, account: Account) -> Peer {
        Peer::known(Some(remote.parse().unwrap()), account)
    }

    #[test]
    fn origins_and_tokens() {
        let open = Access::default();
        assert!(
            open.check_now(&headers(&[("host", "localhost:8080")]), None)
                .is_ok()
        );
        assert!(
            open.check_now(&headers(&[("host", "attacker.example")]), None)
                .is_err()
        );
        let err = open
            .check_now(
                &headers(&[
                    ("host", "localhost"),
                    ("origin", "https://attacker.example"),
                ]),
                None,
            )
            .unwrap_err();
        assert_eq!(err.status, StatusCode::FORBIDDEN);

        let allowed = Access::new(None, vec!["http://localhost:5173".into()]);
        assert!(
            allowed
                .check_now(
                    &headers(&[("host", "localhost"), ("origin", "http://localhost:5173")]),
                    None
                )
                .is_ok()
        );

        let locked = Access::new(Some("s3cret".into()), vec![]);
        let ours = peer("127.0.0.1:4000", Account::Ours);
        let err = locked
            .check_now(&headers(&[("host", "10.0.0.5:8080")]), Some(&ours))
            .unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert!(!err.body.message.contains("s3cret"));
        assert!(
            locked
                .check_now(
                    &headers(&[("host", "10.0.0.5:8080"), ("authorization", "Bearer wrong")]),
                    None
                )
                .is_err()
        );
        assert!(matches!(
            locked.check_now(
                &headers(&[
                    ("host", "10.0.0.5:8080"),
                    ("authorization", "Bearer s3cret")
                ]),
                None
            ),
            Ok(Caller::Trusted)
        ));
    }

    #[test]
    fn without_the_token_the_kernels_word_on_the_caller_decides() {
        let access = Access::owner_or_token(Some("s3cret".into()), vec![], vec!["/srv".into()]);
        let local = headers(&[("host", "127.0.0.1:8080")]);
        let check = |p: Peer| access.check_now(&local, Some(&p));
        assert!(matches!(
            check(peer("127.0.0.1:4000", Account::Ours)),
            Ok(Caller::Trusted)
        ));
        let other = check(peer("127.0.0.1:4000", Account::Other("uid 1001".into()))).unwrap_err();
        assert_eq!(other.status, StatusCode::UNAUTHORIZED);
        assert!(
            other.body.message.contains("uid 1001"),
            "{}",
            other.body.message
        );
        assert!(other.body.message.contains("--show-token"));
        let Ok(Caller::Restricted(roots)) = check(peer("127.0.0.1:4000", Account::Unknown)) else {
            panic!("an unidentified caller is restricted");
        };
        assert_eq!(&roots[..], &[PathBuf::from("/srv")]);
        // The same caller with the token is trusted; from another machine, only with it.
        let with_token = headers(&[
            ("host", "127.0.0.1:8080"),
            ("authorization", "Bearer s3cret"),
        ]);
        assert!(matches!(
            access.check_now(
                &with_token,
                Some(&peer("127.0.0.1:4000", Account::Other("uid 1001".into())))
            ),
            Ok(Caller::Trusted)
        ));
        let far = check(peer("192.168.1.9:4000", Account::Unknown)).unwrap_err();
        assert_eq!(far.status, StatusCode::UNAUTHORIZED);
        // A Unix socket's caller has no address and is local.
        let socket = Peer::known(None, Account::Ours);
        assert!(matches!(check(socket), Ok(Caller::Trusted)));
    }
}
