//! Upload progress of packages still being sent, from the PubNub channels MASV names in
//! `progress_channels`, over PubNub's HTTP subscribe API (one long poll at a time).

use std::time::Duration;

use serde::Deserialize;

use crate::{MasvError, ProgressChannel};

pub const DEFAULT_PUBNUB_ORIGIN: &str = "https://ps.pndsn.com";
pub const PUBNUB_ORIGIN_ENV: &str = "MASV_PUBNUB_ORIGIN";
pub const PUBNUB_KEY_ENV: &str = "MASV_PUBNUB_SUBSCRIBE_KEY";

/// PubNub holds a subscribe request up to ~280 s when nothing is published.
const LONG_POLL: Duration = Duration::from_secs(320);

/// Where to subscribe: the origin and the subscribe key (when MASV does not send one
/// with the channel).
#[derive(Debug, Clone)]
pub struct PubNubConfig {
    pub origin: String,
    pub subscribe_key: Option<String>,
}

impl PubNubConfig {
    /// From `MASV_PUBNUB_ORIGIN` and `MASV_PUBNUB_SUBSCRIBE_KEY`.
    pub fn from_env() -> Self {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        Self {
            origin: var(PUBNUB_ORIGIN_ENV).unwrap_or_else(|| DEFAULT_PUBNUB_ORIGIN.to_owned()),
            subscribe_key: var(PUBNUB_KEY_ENV),
        }
    }
}

/// A subscription to one channel. Call [`Subscription::next`] in a loop.
pub struct Subscription {
    http: reqwest::Client,
    url: String,
    timetoken: String,
    region: Option<u64>,
    uuid: String,
}

/// How far an upload is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UploadProgress {
    /// 0.0 to 1.0.
    pub fraction: f64,
    pub bytes: Option<u64>,
    pub total: Option<u64>,
}

#[derive(Deserialize)]
struct Envelope {
    t: Cursor,
    #[serde(default)]
    m: Vec<Message>,
}

#[derive(Deserialize)]
struct Cursor {
    t: String,
    #[serde(default)]
    r: Option<u64>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    d: serde_json::Value,
}

/// PubNub for many subscriptions: one HTTP client (one pool of connections), however
/// many uploads are followed.
#[derive(Clone)]
pub struct PubNub {
    config: PubNubConfig,
    http: reqwest::Client,
}

impl PubNub {
    pub fn new(config: PubNubConfig) -> Result<Self, MasvError> {
        Ok(Self {
            config,
            http: subscription_client()?,
        })
    }

    pub fn subscribe(&self, channel: &ProgressChannel) -> Result<Subscription, MasvError> {
        Subscription::with_client(self.http.clone(), &self.config, channel)
    }
}

fn subscription_client() -> Result<reqwest::Client, MasvError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .timeout(LONG_POLL)
        .user_agent(concat!("Inbound/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(MasvError::from_reqwest)
}

impl Subscription {
    pub fn new(config: &PubNubConfig, channel: &ProgressChannel) -> Result<Self, MasvError> {
        Self::with_client(subscription_client()?, config, channel)
    }

    /// A subscription on a shared client (see [`PubNub`]).
    fn with_client(
        http: reqwest::Client,
        config: &PubNubConfig,
        channel: &ProgressChannel,
    ) -> Result<Self, MasvError> {
        let key = channel
            .subscribe_key
            .clone()
            .or_else(|| config.subscribe_key.clone())
            .ok_or_else(|| {
                MasvError::Other(format!(
                    "no PubNub subscribe key for upload progress: set {PUBNUB_KEY_ENV}"
                ))
            })?;
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        Ok(Self {
            http,
            url: format!(
                "{}/v2/subscribe/{}/{}/0",
                config.origin.trim_end_matches('/'),
                enc(&key),
                enc(&channel.channel)
            ),
            timetoken: "0".into(),
            region: None,
            uuid: format!("inbound-{:016x}", rand_id()),
        })
    }

    /// Waits for the next messages (the first call only fetches the cursor and returns
    /// none). Returns the raw payloads; see [`UploadProgress::from_message`].
    pub async fn next(&mut self) -> Result<Vec<serde_json::Value>, MasvError> {
        let mut req = self.http.get(&self.url).query(&[
            ("tt", self.timetoken.as_str()),
            ("uuid", self.uuid.as_str()),
        ]);
        if let Some(r) = self.region {
            req = req.query(&[("tr", r)]);
        }
        let resp = req.send().await.map_err(MasvError::from_reqwest)?;
        let status = resp.status();
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(MasvError::Unavailable(format!("PubNub answered {status}")));
        }
        if !status.is_success() {
            return Err(MasvError::Other(format!("PubNub answered {status}")));
        }
        let env: Envelope = resp.json().await.map_err(MasvError::from_reqwest)?;
        self.timetoken = env.t.t;
        self.region = env.t.r;
        Ok(env.m.into_iter().map(|m| m.d).collect())
    }
}

impl UploadProgress {
    /// Reads a progress message, whichever of the usual shapes it has: bytes with a
    /// total (`bytes_uploaded`/`uploaded`/`bytes` and `total_bytes`/`total`/`size`), a
    /// fraction (`progress` 0-1) or a percentage (`percent`/`percentage` 0-100).
    pub fn from_message(d: &serde_json::Value) -> Option<Self> {
        let num = |keys: &[&str]| keys.iter().find_map(|k| d.get(*k).and_then(as_f64));
        let bytes = num(&["bytes_uploaded", "uploaded", "bytes", "transferred"]);
        let total = num(&["total_bytes", "total", "size"]);
        let fraction = match (bytes, total) {
            (Some(b), Some(t)) if t > 0.0 => b / t,
            _ => {
                if let Some(p) = num(&["percent", "percentage"]) {
                    p / 100.0
                } else {
                    num(&["progress"]).map(|p| if p > 1.0 { p / 100.0 } else { p })?
                }
            }
        };
        Some(Self {
            fraction: fraction.clamp(0.0, 1.0),
            bytes: bytes.map(|b| b as u64),
            total: total.map(|t| t as u64),
        })
    }
}

fn as_f64(v: &serde_json::Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|f: &f64| f.is_finite() && *f >= 0.0)
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn progress_shapes() {
        let p = UploadProgress::from_message(&json!({"bytes_uploaded": 25, "total_bytes": 100}))
            .unwrap();
        assert_eq!(p.fraction, 0.25);
        assert_eq!(p.total, Some(100));
        let p = UploadProgress::from_message(&json!({"percent": "40"})).unwrap();
        assert_eq!(p.fraction, 0.4);
        let p = UploadProgress::from_message(&json!({"progress": 0.5})).unwrap();
        assert_eq!(p.fraction, 0.5);
        assert!(UploadProgress::from_message(&json!({"state": "zip"})).is_none());
        assert!(UploadProgress::from_message(&json!({"percent": -3})).is_none());
    }
}
