use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Fault switches, changeable while the simulator runs. "Every N" switches count
/// requests of their kind and fire on each N-th one; 0 turns a switch off.
#[derive(Debug)]
pub struct Faults {
    /// Every N-th storage response is cut (connection reset) halfway through its body.
    pub drop_mid_body_every: AtomicU32,
    /// Every N-th storage response stops sending halfway and keeps the connection open.
    pub stall_every: AtomicU32,
    /// Every N-th storage response ignores the `Range` header: 200 with the whole object.
    pub ignore_range_every: AtomicU32,
    /// Every N-th storage response claims (and sends) a range starting elsewhere.
    pub wrong_range_start_every: AtomicU32,
    /// Every N-th storage response gives the object's total size wrong in `Content-Range`.
    pub wrong_range_total_every: AtomicU32,
    /// Every N-th storage response sends only the first half of the range asked for,
    /// with headers that say so (legal HTTP; the client must ask for the rest).
    pub short_range_every: AtomicU32,
    /// Every N-th storage response announces a `Content-Length` larger than the body
    /// it sends before closing.
    pub length_over_every: AtomicU32,
    /// Every N-th storage response trickles: its whole body at `trickle_bytes_per_sec`,
    /// in small pieces, so it never looks stalled (a congested or throttled path).
    pub trickle_every: AtomicU32,
    pub trickle_bytes_per_sec: AtomicU64,
    /// Every N-th request (API or storage) answers 503.
    pub error_503_every: AtomicU32,
    /// Every N-th request (API or storage) answers 429 with `Retry-After: 1`.
    pub error_429_every: AtomicU32,
    /// MASV's API answers 503 to every request while its storage still serves: MASV
    /// down, the network fine.
    pub api_down: AtomicBool,
    /// When not 0: storage's 429 and 503 answers say `Retry-After` this many seconds.
    pub storage_retry_after_secs: AtomicU64,
    /// Storage names every object by a plain-MD5 ETag that is not its bytes' MD5 (a
    /// corrupted object, or bytes damaged on the way).
    pub md5_etag_lies: AtomicBool,
    /// File listings leave out every file's `size`, as a partial API answer may.
    pub listing_omits_size: AtomicBool,
    /// The download-URL route answers 403 for every file, with a body that speaks of
    /// access, not of a virus (a rule on the account, a link withdrawn meanwhile).
    pub refuse_download_urls: AtomicBool,
    /// Until then the simulator is unreachable, as after a Wi-Fi change or a VPN drop:
    /// new connections are closed at once, requests on open ones fail without an
    /// answer, and bodies being sent are cut.
    outage_until: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// Lifetime of presigned storage URLs.
    pub url_lifetime_ms: AtomicU64,
    /// Lifetime of package tokens handed out by the link route.
    pub token_lifetime_ms: AtomicU64,
    /// Per-response bandwidth cap in bytes per second (0 = none), as a WAN path would.
    pub conn_bytes_per_sec: AtomicU64,
    /// Added before every response, as a WAN round trip would.
    pub latency_ms: AtomicU64,
    /// Storage answers nothing until this many requests wait at once (0: no gate).
    hold_storage_until: AtomicU64,
    storage_waiting: AtomicU64,
    storage_released: tokio::sync::Notify,
    /// File lists of packages with more files than this are rate limited...
    pub listing_limit_over_files: AtomicU64,
    /// ...to one listing per this many milliseconds.
    pub listing_interval_ms: AtomicU64,
    api_requests: AtomicU64,
    storage_requests: AtomicU64,
    /// What was actually injected or refused, so tests can tell a fault fired.
    pub injected: Injected,
}

/// Counts of faults that fired.
#[derive(Debug, Default)]
pub struct Injected {
    pub status_503: AtomicU64,
    pub status_429: AtomicU64,
    pub drops: AtomicU64,
    pub stalls: AtomicU64,
    pub trickles: AtomicU64,
    /// Trickling bodies the client stopped reading before their end.
    pub trickles_abandoned: AtomicU64,
    /// Storage answers that misbehaved in one of the ways above (200 to a range, wrong
    /// or short `Content-Range`, `Content-Length` over the body).
    pub bad_ranges: AtomicU64,
    /// Storage requests refused with 412 because their `If-Match` named an older object.
    pub precondition_failed: AtomicU64,
    /// Storage requests refused because their presigned URL had expired.
    pub expired_urls: AtomicU64,
    /// API requests refused because their package token had expired.
    pub expired_tokens: AtomicU64,
    /// Connections closed and requests broken because of an outage.
    pub outage_refusals: AtomicU64,
    /// Download-URL requests refused with 403 by `refuse_download_urls`.
    pub url_refusals: AtomicU64,
}

impl Injected {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            drop_mid_body_every: AtomicU32::new(0),
            stall_every: AtomicU32::new(0),
            trickle_every: AtomicU32::new(0),
            trickle_bytes_per_sec: AtomicU64::new(2048),
            ignore_range_every: AtomicU32::new(0),
            wrong_range_start_every: AtomicU32::new(0),
            wrong_range_total_every: AtomicU32::new(0),
            short_range_every: AtomicU32::new(0),
            length_over_every: AtomicU32::new(0),
            error_503_every: AtomicU32::new(0),
            error_429_every: AtomicU32::new(0),
            api_down: AtomicBool::new(false),
            storage_retry_after_secs: AtomicU64::new(0),
            listing_omits_size: AtomicBool::new(false),
            md5_etag_lies: AtomicBool::new(false),
            refuse_download_urls: AtomicBool::new(false),
            outage_until: std::sync::Mutex::new(None),
            url_lifetime_ms: AtomicU64::new(3_600_000),
            token_lifetime_ms: AtomicU64::new(3_600_000),
            conn_bytes_per_sec: AtomicU64::new(0),
            latency_ms: AtomicU64::new(0),
            hold_storage_until: AtomicU64::new(0),
            storage_waiting: AtomicU64::new(0),
            storage_released: tokio::sync::Notify::new(),
            listing_limit_over_files: AtomicU64::new(10_000),
            listing_interval_ms: AtomicU64::new(5_000),
            api_requests: AtomicU64::new(0),
            storage_requests: AtomicU64::new(0),
            injected: Injected::default(),
        }
    }
}

/// What the simulator does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mischief {
    None,
    Status503,
    Status429,
    DropMidBody,
    StallMidBody,
    Trickle,
    IgnoreRange,
    WrongRangeStart,
    WrongRangeTotal,
    ShortRange,
    LengthOver,
}

impl Faults {
    /// Makes the simulator unreachable for `d` from now.
    pub fn set_outage(&self, d: Duration) {
        *self.outage_until.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(tokio::time::Instant::now() + d);
    }

    /// Whether the simulator is unreachable now.
    pub fn in_outage(&self) -> bool {
        self.outage_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|until| tokio::time::Instant::now() < until)
    }

    pub fn set_url_lifetime(&self, d: Duration) {
        self.url_lifetime_ms.store(d.as_millis() as u64, Relaxed);
    }

    pub fn set_token_lifetime(&self, d: Duration) {
        self.token_lifetime_ms.store(d.as_millis() as u64, Relaxed);
    }

    pub fn set_latency(&self, d: Duration) {
        self.latency_ms.store(d.as_millis() as u64, Relaxed);
    }

    /// Storage answers nothing until `n` requests wait at once; then it answers them
    /// all, and every later one at once: how many connections a client opens before it
    /// has heard anything.
    pub fn hold_storage_until(&self, n: u64) {
        self.hold_storage_until.store(n, Relaxed);
    }

    /// Waits at the gate `hold_storage_until` set, if it is closed.
    pub(crate) async fn storage_gate(&self) {
        let wanted = self.hold_storage_until.load(Relaxed);
        if wanted == 0 {
            return;
        }
        let released = self.storage_released.notified();
        if self.storage_waiting.fetch_add(1, Relaxed) + 1 >= wanted {
            self.hold_storage_until.store(0, Relaxed);
            self.storage_released.notify_waiters();
            return;
        }
        released.await;
    }

    pub fn set_conn_rate(&self, bytes_per_sec: u64) {
        self.conn_bytes_per_sec.store(bytes_per_sec, Relaxed);
    }

    pub fn set_listing_limit(&self, over_files: u64, interval: Duration) {
        self.listing_limit_over_files.store(over_files, Relaxed);
        self.listing_interval_ms
            .store(interval.as_millis() as u64, Relaxed);
    }

    /// Turns every error switch off (lifetimes, caps and latency are left as they are).
    pub fn clear_errors(&self) {
        for s in [
            &self.drop_mid_body_every,
            &self.stall_every,
            &self.trickle_every,
            &self.ignore_range_every,
            &self.wrong_range_start_every,
            &self.wrong_range_total_every,
            &self.short_range_every,
            &self.length_over_every,
            &self.error_503_every,
            &self.error_429_every,
        ] {
            s.store(0, Relaxed);
        }
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Relaxed))
    }

    pub(crate) fn next_api(&self) -> Mischief {
        let n = self.api_requests.fetch_add(1, Relaxed) + 1;
        if self.api_down.load(Relaxed) {
            return self.count(Mischief::Status503);
        }
        self.count(self.status_mischief(n))
    }

    pub(crate) fn next_storage(&self) -> Mischief {
        let n = self.storage_requests.fetch_add(1, Relaxed) + 1;
        let body_faults = [
            (&self.drop_mid_body_every, Mischief::DropMidBody),
            (&self.stall_every, Mischief::StallMidBody),
            (&self.trickle_every, Mischief::Trickle),
            (&self.ignore_range_every, Mischief::IgnoreRange),
            (&self.wrong_range_start_every, Mischief::WrongRangeStart),
            (&self.wrong_range_total_every, Mischief::WrongRangeTotal),
            (&self.short_range_every, Mischief::ShortRange),
            (&self.length_over_every, Mischief::LengthOver),
        ];
        let m = match self.status_mischief(n) {
            Mischief::None => body_faults
                .iter()
                .find(|(every, _)| fires(every, n))
                .map_or(Mischief::None, |(_, m)| *m),
            other => other,
        };
        self.count(m)
    }

    fn count(&self, m: Mischief) -> Mischief {
        let counter = match m {
            Mischief::None => return m,
            Mischief::Status503 => &self.injected.status_503,
            Mischief::Status429 => &self.injected.status_429,
            Mischief::DropMidBody => &self.injected.drops,
            Mischief::StallMidBody => &self.injected.stalls,
            Mischief::Trickle => &self.injected.trickles,
            Mischief::IgnoreRange
            | Mischief::WrongRangeStart
            | Mischief::WrongRangeTotal
            | Mischief::ShortRange
            | Mischief::LengthOver => &self.injected.bad_ranges,
        };
        counter.fetch_add(1, Relaxed);
        m
    }

    fn status_mischief(&self, n: u64) -> Mischief {
        if fires(&self.error_503_every, n) {
            Mischief::Status503
        } else if fires(&self.error_429_every, n) {
            Mischief::Status429
        } else {
            Mischief::None
        }
    }
}

fn fires(every: &AtomicU32, n: u64) -> bool {
    let every = u64::from(every.load(Relaxed));
    every != 0 && n.is_multiple_of(every)
}
