//! Who may talk to the API: the checks the MASV Agent lacks.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Access rules. Without a token the API answers only requests addressed to a loopback
/// name (so a web page cannot reach it through DNS rebinding); with one, every request
/// must carry `Authorization: Bearer TOKEN`. Browser requests (`Origin` present) are
/// refused unless their origin is listed.
#[derive(Clone, Default)]
pub struct Access {
    token: Option<Arc<str>>,
    allowed_origins: Arc<[String]>,
}

impl Access {
    pub fn new(token: Option<String>, allowed_origins: Vec<String>) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()).map(Arc::from),
            allowed_origins: allowed_origins.into(),
        }
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
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
        match &self.token {
            Some(expected) => {
                let given = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or_default();
                if !constant_time_eq::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
                    return Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "missing or wrong bearer token; send the header Authorization: Bearer <token>",
                    ));
                }
            }
            None => {
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
            }
        }
        Ok(())
    }
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

pub async fn guard(State(access): State<Access>, req: Request, next: Next) -> Response {
    match access.check(req.headers()) {
        Ok(()) => next.run(req).await,
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

    #[test]
    fn origins_and_tokens() {
        let open = Access::default();
        assert!(open.check(&headers(&[("host", "localhost:8080")])).is_ok());
        assert!(
            open.check(&headers(&[("host", "attacker.example")]))
                .is_err()
        );
        let err = open
            .check(&headers(&[
                ("host", "localhost"),
                ("origin", "https://attacker.example"),
            ]))
            .unwrap_err();
        assert_eq!(err.status, StatusCode::FORBIDDEN);

        let allowed = Access::new(None, vec!["http://localhost:5173".into()]);
        assert!(
            allowed
                .check(&headers(&[
                    ("host", "localhost"),
                    ("origin", "http://localhost:5173")
                ]))
                .is_ok()
        );

        let locked = Access::new(Some("s3cret".into()), vec![]);
        let err = locked
            .check(&headers(&[("host", "10.0.0.5:8080")]))
            .unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert!(!err.body.message.contains("s3cret"));
        assert!(
            locked
                .check(&headers(&[
                    ("host", "10.0.0.5:8080"),
                    ("authorization", "Bearer wrong")
                ]))
                .is_err()
        );
        assert!(
            locked
                .check(&headers(&[
                    ("host", "10.0.0.5:8080"),
                    ("authorization", "Bearer s3cret")
                ]))
                .is_ok()
        );
    }
}
