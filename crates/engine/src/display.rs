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

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
