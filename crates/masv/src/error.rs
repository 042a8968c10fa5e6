use std::time::Duration;

/// Every way a MASV call can fail that a person (or the engine's retry logic) must tell
/// apart. Messages say what was wrong and what to do; none carries a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MasvError {
    #[error("this is not a valid MASV link: {0}")]
    InvalidLink(String),
    #[error(
        "the link was not found: check that it was copied completely, or ask the sender for a new one"
    )]
    BadLink,
    #[error("the link has expired: ask the sender to extend it or send a new one")]
    Expired,
    #[error("this link is protected by a password: enter the password the sender gave you")]
    PasswordRequired,
    #[error("wrong password for this link: check it with the sender and try again")]
    WrongPassword,
    #[error("MASV is rate limiting requests; retrying later")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the package access token has expired")]
    TokenExpired,
    #[error("the file was flagged as infected by MASV's virus scan and is withheld")]
    Virus,
    #[error(
        "MASV refused the API key: check it in MASV's web app (Settings, API keys) and log in again"
    )]
    ApiKeyRejected,
    #[error("not a MASV team, portal or package id: {0:?} (ids are letters, digits, - and _)")]
    InvalidId(String),
    #[error("MASV does not know this team or portal: check its id")]
    TeamNotFound,
    #[error("temporary network or server problem: {0}")]
    Transient(String),
    #[error("unexpected answer from MASV: {0}")]
    Other(String),
}

impl MasvError {
    /// Worth retrying the same call after a pause.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_) | Self::RateLimited { .. })
    }

    /// Builds the error for a failed request; the URL (which may hold a secret) is dropped.
    pub fn from_reqwest(err: reqwest::Error) -> Self {
        let err = err.without_url();
        if err.is_decode() {
            Self::Other(format!("malformed response: {err}"))
        } else if err.is_builder() {
            Self::Other(err.to_string())
        } else {
            Self::Transient(describe_network_error(&err))
        }
    }
}

fn describe_network_error(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "the server did not answer in time".into()
    } else if err.is_connect() {
        "could not connect to the server".into()
    } else {
        let mut msg = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        msg
    }
}

/// Parses `Retry-After` given either as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
