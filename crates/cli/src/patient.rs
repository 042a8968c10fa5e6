//! `inbound get` with MASV out of reach: it says so plainly, counts down, and tries
//! again until MASV answers or the person presses Ctrl-C. A server left to fetch a
//! package overnight should not need someone to run the command again.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use inbound_engine::{Destination, Engine, EngineError, LinkOptions};

/// Pauses between tries: quick at first (a Wi-Fi change), then every half minute.
const PAUSES: [u64; 4] = [5, 10, 20, 30];

/// How a patient add ended.
pub(crate) enum Added {
    Download(String),
    /// Ctrl-C while waiting: nothing was downloaded.
    Stopped,
}

/// Adds the link, waiting out MASV being unreachable (or rate limiting).
pub(crate) async fn add_patiently(
    engine: &Engine,
    url: &str,
    dest: Destination,
    options: LinkOptions,
) -> Result<Added, EngineError> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut tries = 0usize;
    let mut status = Status::default();
    loop {
        let added = engine.add_link_with(url, dest.clone(), options.clone());
        tokio::pin!(added);
        // A slow answer is said within a second, so a person knows what it waits for.
        let slow = tokio::time::sleep(SLOW_ANSWER);
        tokio::pin!(slow);
        let e = loop {
            tokio::select! {
                _ = &mut ctrl_c => {
                    status.clear();
                    return Ok(Added::Stopped);
                }
                () = &mut slow, if tries == 0 && !status.shown => {
                    status.show("asking MASV for the package… (Ctrl-C to stop)");
                }
                added = &mut added => match added {
                    Ok(id) => {
                        status.clear();
                        if tries > 0 {
                            note("MASV answered; starting the download");
                        }
                        return Ok(Added::Download(id));
                    }
                    Err(EngineError::Masv(e)) if e.is_transient() => break e,
                    Err(other) => {
                        status.clear();
                        return Err(other);
                    }
                },
            }
        };
        let pause = PAUSES[tries.min(PAUSES.len() - 1)];
        tries += 1;
        let why = e.unreachable_sentence();
        tokio::select! {
            _ = &mut ctrl_c => {
                status.clear();
                return Ok(Added::Stopped);
            }
            () = count_down(&why, pause) => {}
        }
        // The line stays while the next try is under way: the screen never goes blank.
        status.show(&format!(
            "{}; trying again now… (Ctrl-C to stop)",
            inbound_engine::terminal_safe(&why)
        ));
    }
}

/// Within this the first answer usually comes; past it the wait is said.
const SLOW_ANSWER: Duration = Duration::from_secs(1);

/// The one status line while MASV is asked: rewritten in place on a terminal, a line
/// of its own otherwise (a log stays readable).
#[derive(Default)]
struct Status {
    shown: bool,
}

impl Status {
    fn show(&mut self, line: &str) {
        let mut err = std::io::stderr();
        if err.is_terminal() {
            let _ = write!(err, "\r{line}\x1b[K");
            let _ = err.flush();
        } else {
            let _ = writeln!(err, "{line}");
        }
        self.shown = true;
    }

    /// Takes the line away before what comes next is written (a terminal only).
    fn clear(&mut self) {
        let mut err = std::io::stderr();
        if self.shown && err.is_terminal() {
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
        self.shown = false;
    }
}

/// "MASV cannot be reached (why); trying again in N s": one line rewritten each second
/// on a terminal, one line per try otherwise (a log stays readable).
async fn count_down(why: &str, secs: u64) {
    let why = inbound_engine::terminal_safe(why);
    let line = |left: u64| format!("{why}; trying again in {left} s (Ctrl-C to stop)");
    let mut err = std::io::stderr();
    if !err.is_terminal() {
        let _ = writeln!(err, "{}", line(secs));
        tokio::time::sleep(Duration::from_secs(secs)).await;
        return;
    }
    for left in (1..=secs).rev() {
        // Clear to the end of the line: the reason may have been longer last time.
        let _ = write!(err, "\r{}\x1b[K", line(left));
        let _ = err.flush();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn note(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}
