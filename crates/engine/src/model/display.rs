//! Names from a package (file names, package names, senders) are untrusted text. Shown
//! in a terminal, an escape sequence could retitle the window, hide text or forge a
//! link; in a notification, markup could restyle it; a right-to-left override can make
//! `exe.mov` read as `vom.exe`. These make such text visible instead of acting on it.

/// `s` with control characters shown as `\u{..}` escapes and bidirectional controls
/// shown as `<U+202E>`-style marks, for a terminal or a log line.
pub fn terminal_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else if is_bidi_control(c) {
            out.push_str(&format!("<U+{:04X}>", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// [`terminal_safe`], with `&`, `<` and `>` escaped too, for notification servers that
/// read the body as markup.
pub fn notification_safe(s: &str) -> String {
    terminal_safe(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// A size or rate that could not be read, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ByteSizeError(String);

/// Parses a rate or size such as `500K`, `20M`, `1.5MiB`, `2g/s` or `1048576` into bytes
/// (binary units: `K` = 1024).
pub fn parse_bytes(input: &str) -> Result<u64, ByteSizeError> {
    let s = input.trim().trim_end_matches("/s").trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| {
        ByteSizeError(format!(
            "'{input}' is not a size; use a number with an optional unit, like 20M or 500K"
        ))
    })?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(ByteSizeError(format!(
                "unknown unit '{other}' in '{input}'; use K, M or G (binary: 1K = 1024 bytes)"
            )));
        }
    };
    let bytes = value * factor as f64;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(ByteSizeError(format!("'{input}' must be at least 1 byte")));
    }
    Ok(bytes as u64)
}

pub fn human_bytes(n: u64) -> String {
    // As the desktop's `formatBytes` reads them (ui/src/lib/format.cases.json holds
    // both to one table): binary multiples, labelled as Windows and `ls -h` count them.
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// How the time until a package expires reads (`left` seconds; none left: "expired"),
/// as the desktop's `expiryText` reads it (ui/src/lib/expiry.cases.json holds both to
/// one table): days while there are two or more, hours on the last two, minutes in the
/// last hour.
pub fn expires_in(left: i64) -> String {
    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;
    if left <= 0 {
        "expired".to_owned()
    } else if left < HOUR {
        format!("expires in {} min", (left / 60).max(1))
    } else if left < 2 * DAY {
        format!("expires in {} h", left / HOUR)
    } else {
        format!("expires in {} days", left / DAY)
    }
}

/// A moment (Unix seconds) in local time as a person plans by: "Tue 15 Dec 14:00".
pub fn local_moment(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%a %-d %b %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_reads_as_the_desktop_reads_it() {
        let table: serde_json::Value =
            serde_json::from_str(include_str!("../../../../ui/src/lib/expiry.cases.json")).unwrap();
        for case in table["cases"].as_array().unwrap() {
            let (left, said) = (case[0].as_i64().unwrap(), case[1].as_str().unwrap());
            assert_eq!(expires_in(left), said, "{left} s left");
        }
    }

    #[test]
    fn sizes_read_as_the_desktop_reads_them() {
        let table: serde_json::Value =
            serde_json::from_str(include_str!("../../../../ui/src/lib/format.cases.json")).unwrap();
        for case in table["cases"].as_array().unwrap() {
            let (n, said) = (case[0].as_u64().unwrap(), case[1].as_str().unwrap());
            assert_eq!(human_bytes(n), said, "{n} bytes");
        }
    }

    #[test]
    fn escapes_and_overrides_are_shown_not_obeyed() {
        let hostile = "Rushes\u{1b}]0;pwned\u{7}\u{1b}[2J \u{202e}vom.exe\u{9b}";
        let safe = terminal_safe(hostile);
        assert!(
            !safe.chars().any(|c| c.is_control() || is_bidi_control(c)),
            "{safe}"
        );
        assert_eq!(
            safe,
            "Rushes\\u{1b}]0;pwned\\u{7}\\u{1b}[2J <U+202E>vom.exe\\u{9b}"
        );
        assert_eq!(terminal_safe("Día 1/Clip.mov"), "Día 1/Clip.mov");
        let note = notification_safe("<b>Day & night</b>\u{1b}");
        assert_eq!(note, "&lt;b&gt;Day &amp; night&lt;/b&gt;\\u{1b}");
    }
}
