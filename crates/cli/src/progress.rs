//! Terminal progress: one bar for the package, one per file in flight.

use std::collections::HashMap;
use std::time::Duration;

use inbound_engine::{
    DownloadDetail, DownloadProgress, FileState, HeldBack, Waiting, human_bytes, terminal_safe,
    unix_now,
};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

const MAX_FILE_BARS: usize = 8;

pub struct ProgressView {
    multi: MultiProgress,
    total: ProgressBar,
    files: Vec<(String, u64)>,
    bars: HashMap<usize, ProgressBar>,
    file_style: ProgressStyle,
    /// Set while the download waits for the network.
    waiting: Option<Waiting>,
}

impl ProgressView {
    pub fn new(detail: &DownloadDetail) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
        let total = multi.add(ProgressBar::new(detail.summary.total_bytes));
        total.set_style(
            ProgressStyle::with_template(
                "{prefix:.bold} [{bar:40.cyan/blue}] {bytes}/{total_bytes} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        total.set_prefix(truncate(&terminal_safe(&detail.summary.name), 40));
        total.set_position(detail.summary.bytes_done);
        total.enable_steady_tick(Duration::from_millis(250));
        let file_style =
            ProgressStyle::with_template("  {prefix:40} [{bar:30}] {bytes}/{total_bytes} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        Self {
            multi,
            total,
            files: detail
                .files
                .iter()
                .map(|f| (terminal_safe(&f.saved_name()), f.size))
                .collect(),
            bars: HashMap::new(),
            file_style,
            waiting: detail.summary.waiting.clone(),
        }
    }

    pub fn update(&mut self, p: &DownloadProgress) {
        self.total.set_length(p.total_bytes);
        self.total.set_position(p.bytes_done);
        let eta = p
            .eta_secs
            .map(|s| format!(", {} left", format_eta(s)))
            .unwrap_or_default();
        match (&self.waiting, &p.checking) {
            (Some(w), _) => self.total.set_message(waiting_line(w, unix_now())),
            (None, Some(c)) => self.total.set_message(format!(
                "checking the files already here: {} of {} ({} of {})",
                c.files_done,
                c.files,
                human_bytes(c.bytes_done),
                human_bytes(c.bytes)
            )),
            (None, None) => self.total.set_message(format!(
                "{}/s{eta}{}",
                human_bytes(p.rate),
                p.held_back.map(held_back_note).unwrap_or_default()
            )),
        }
        for f in &p.files {
            let Some((name, size)) = self.files.get(f.index) else {
                continue;
            };
            if f.bytes_done >= *size {
                self.remove(f.index);
                continue;
            }
            if !self.bars.contains_key(&f.index) && self.bars.len() >= MAX_FILE_BARS {
                continue;
            }
            let bar = self.bars.entry(f.index).or_insert_with(|| {
                let b = self.multi.add(ProgressBar::new(*size));
                b.set_style(self.file_style.clone());
                b.set_prefix(truncate(name, 40));
                b
            });
            bar.set_position(f.bytes_done);
            bar.set_message(format!("{}/s", human_bytes(f.rate)));
        }
    }

    /// The download started (or stopped) waiting for the network.
    pub fn waiting(&mut self, waiting: Option<Waiting>) {
        if let Some(w) = &waiting {
            self.total.set_message(waiting_line(w, unix_now()));
        }
        self.waiting = waiting;
    }

    /// A line above the bars (also where stderr is no terminal and the bars are not
    /// drawn).
    pub fn note(&self, line: &str) {
        self.multi.suspend(|| eprintln!("{line}"));
    }

    pub fn file_state(&mut self, index: usize, state: FileState) {
        if state.is_settled() || state == FileState::Error {
            self.remove(index);
        }
    }

    fn remove(&mut self, index: usize) {
        if let Some(b) = self.bars.remove(&index) {
            b.finish_and_clear();
            self.multi.remove(&b);
        }
    }

    pub fn finish(&mut self) {
        for (_, b) in self.bars.drain() {
            b.finish_and_clear();
        }
        self.total.finish_and_clear();
    }
}

/// `waiting for the network, next try in 40s (could not connect to the server)`.
fn waiting_line(w: &Waiting, now: i64) -> String {
    let left = w.retry_at - now;
    if w.reason == inbound_engine::WaitReason::Schedule {
        // `outside the download hours (daily 22:00-06:00); …`, and how long until then.
        let when = if left > 0 {
            format!(", about {} from now", format_eta(left.unsigned_abs()))
        } else {
            String::new()
        };
        return format!("waiting: {}{when}", terminal_safe(&w.message));
    }
    let when = if left > 0 {
        format!("next try in {}", format_eta(left.unsigned_abs()))
    } else {
        "trying again now".to_owned()
    };
    let waiting_for = match w.reason {
        // The message says it: `MASV cannot be reached (server answered 503 …)`.
        inbound_engine::WaitReason::Masv => {
            return format!("{}; {when}", terminal_safe(&w.message));
        }
        inbound_engine::WaitReason::RateLimited => "MASV asked to slow down",
        // The message says where and what: `waiting for space on the drive of …`,
        // `the folder … is gone: is the drive connected?`.
        inbound_engine::WaitReason::Space | inbound_engine::WaitReason::Drive => {
            let again = if left > 0 {
                format!("in {}", format_eta(left.unsigned_abs()))
            } else {
                "now".to_owned()
            };
            return format!("{}; looking again {again}", terminal_safe(&w.message));
        }
        _ => "waiting for the network",
    };
    format!("{waiting_for}, {when} ({})", terminal_safe(&w.message))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let tail: String = s
            .chars()
            .rev()
            .take(max - 1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("…{tail}")
    }
}

fn format_eta(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// What holds the download back, for the status line.
fn held_back_note(why: HeldBack) -> &'static str {
    match why {
        HeldBack::StorageBusy => " (MASV storage is limiting connections)",
        HeldBack::DiskSlow => " (slowed by the disk)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_and_names_fit_the_terminal() {
        assert_eq!(format_eta(5), "5s");
        assert_eq!(format_eta(125), "2m05s");
        assert_eq!(format_eta(7320), "2h02m");
        assert_eq!(truncate("short", 10), "short");
        let t = truncate("a/very/long/path/to/some/file.mov", 12);
        assert_eq!(t.chars().count(), 12);
        assert!(t.ends_with("file.mov"));
    }

    #[test]
    fn waiting_says_why_and_counts_down() {
        let w = Waiting {
            reason: inbound_engine::WaitReason::Network,
            message: "could not connect to the server".into(),
            retry_at: 1_000,
        };
        assert_eq!(
            waiting_line(&w, 960),
            "waiting for the network, next try in 40s (could not connect to the server)"
        );
        assert_eq!(
            waiting_line(&w, 1_001),
            "waiting for the network, trying again now (could not connect to the server)"
        );
        let w = Waiting {
            reason: inbound_engine::WaitReason::Masv,
            message: "MASV cannot be reached (server answered 503 Service Unavailable)".into(),
            retry_at: 1_000,
        };
        assert_eq!(
            waiting_line(&w, 988),
            "MASV cannot be reached (server answered 503 Service Unavailable); next try in 12s"
        );
        let w = Waiting {
            reason: inbound_engine::WaitReason::Schedule,
            message: "outside the download hours (daily 22:00-06:00)".into(),
            retry_at: 1_000,
        };
        assert_eq!(
            waiting_line(&w, 940),
            "waiting: outside the download hours (daily 22:00-06:00), about 1m00s from now"
        );
    }
}
