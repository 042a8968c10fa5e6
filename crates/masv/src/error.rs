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
        "MASV refused to hand out this file (403 Forbidden); its bytes so far are kept: retry later, or ask the sender whether the link still gives access"
    )]
    FileRefused,
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
    /// MASV answered, with a server error (5xx, 408): the network works, MASV does not.
    #[error("temporary network or server problem: {0}")]
    Unavailable(String),
    #[error("unexpected answer from MASV: {0}")]
    Other(String),
}

impl MasvError {
    /// Worth retrying the same call after a pause.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Transient(_) | Self::Unavailable(_) | Self::RateLimited { .. }
        )
    }

    /// What the failure was, without the generic "temporary network or server
    /// problem" words, for sentences such as "MASV cannot be reached (…)".
    pub fn reason(&self) -> String {
        match self {
            Self::Transient(why) | Self::Unavailable(why) => why.clone(),
            Self::RateLimited { .. } => "MASV is rate limiting requests".into(),
            other => other.to_string(),
        }
    }

    /// "MASV cannot be reached (could not connect to the server)": a transient failure
    /// as the CLI and the desktop tell it, each thing said once.
    pub fn unreachable_sentence(&self) -> String {
        format!("MASV cannot be reached ({})", self.reason())
    }

    /// Whether a stored error message (as [`MasvError`]'s `Display` wrote it, possibly
    /// after a file's name) was a transient one: the network, a 5xx, rate limiting.
    /// Used for downloads an older version left in Error for such a cause.
    pub fn is_transient_message(message: &str) -> bool {
        let transient = Self::Transient(String::new()).to_string();
        let limited = Self::RateLimited { retry_after: None }.to_string();
        message.contains(transient.trim_end()) || message.contains(&limited)
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
    if err.is_request() && !err.is_connect() && !err.is_timeout() && io_error_kind(err).is_none() {
        // Sent, and the connection closed before an answer ("connection closed before
        // message completed"): the same thing for a person.
        tracing::debug!(error = %chain(err), "request failed");
        return "the connection was cut".into();
    }
    describe_transport_error(err, err.is_connect(), err.is_timeout())
}

/// Describes a failed HTTP exchange for a person, from any client's error (`connect`:
/// the connection could not be made; `timeout`: the client's own time limit ran out).
/// Says what happened, never the URL; a reset or cut connection reads the same however
/// the client words it.
pub fn describe_transport_error(
    err: &(dyn std::error::Error + 'static),
    connect: bool,
    timeout: bool,
) -> String {
    if timeout {
        "the server did not answer in time".into()
    } else if connect {
        "could not connect to the server".into()
    } else if let Some(kind) = io_error_kind(err) {
        // The raw chain ("error sending request: client error (SendRequest):
        // connection error: Connection reset by peer (os error 104)") says this.
        use std::io::ErrorKind as Kind;
        match kind {
            Kind::ConnectionRefused => "could not connect to the server".into(),
            Kind::ConnectionReset
            | Kind::ConnectionAborted
            | Kind::BrokenPipe
            | Kind::UnexpectedEof => "the connection was cut".into(),
            _ => chain(err),
        }
    } else {
        chain(err)
    }
}

/// The kind of the I/O error under a request error, if one caused it.
fn io_error_kind(err: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = s.source();
    }
    None
}

/// The error and every cause under it, as one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod message_tests {
    use super::MasvError;

    #[test]
    fn stored_messages_of_transient_errors_are_recognised() {
        for transient in [
            MasvError::Transient("could not connect to the server".into()).to_string(),
            format!(
                "Day 1/A001.mov: {}",
                MasvError::Transient("the server did not answer in time".into())
            ),
            MasvError::RateLimited { retry_after: None }.to_string(),
        ] {
            assert!(MasvError::is_transient_message(&transient), "{transient}");
        }
        for terminal in [
            MasvError::Expired.to_string(),
            MasvError::WrongPassword.to_string(),
            MasvError::Virus.to_string(),
            "no space left on the destination drive".to_owned(),
        ] {
            assert!(!MasvError::is_transient_message(&terminal), "{terminal}");
        }
    }
}

/// The longest a server's `Retry-After` is waited: a day-long value from a confused or
/// hostile server must not park a download over a weekend.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(5 * 60);

/// The wait a response asks for, in seconds or as an HTTP date; a date is measured from
/// the response's own `Date` (so a wrong local clock does not matter), and the wait is
/// clamped to [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
    };
    let sent = text(reqwest::header::DATE)
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d.trim()).ok())
        .map_or_else(chrono::Utc::now, |d| d.with_timezone(&chrono::Utc));
    let asked = parse_retry_after(text(reqwest::header::RETRY_AFTER)?, sent)?;
    if asked > MAX_RETRY_AFTER {
        tracing::info!(
            asked_secs = asked.as_secs(),
            waiting_secs = MAX_RETRY_AFTER.as_secs(),
            "server asked for a long Retry-After; waiting the most Inbound waits"
        );
    }
    Some(asked.min(MAX_RETRY_AFTER))
}

/// `Retry-After` given either as seconds or as an HTTP date (measured from `now`).
fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = chrono::Utc::now();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn a_retry_after_date_counts_from_the_server_clock_and_a_day_is_clamped() {
        use reqwest::header::{DATE, HeaderMap, HeaderValue, RETRY_AFTER};
        let mut h = HeaderMap::new();
        // The server's clock says 07:28:00; it asks to come back at 07:28:30. The
        // local clock (years later) does not matter.
        h.insert(
            DATE,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(30)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.remove(RETRY_AFTER);
        assert_eq!(retry_after(&h), None);
    }
}
