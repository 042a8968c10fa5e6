//! Links arriving from outside: `masv://`, `inbound://` and plain https MASV links.

use inbound_engine::MasvError;

/// Turns what the browser or a second launch hands over into a MASV https link, or
/// `None` when it is not one (the host and path shape are checked, not just the scheme).
pub fn normalize_incoming(raw: &str) -> Option<String> {
    match normalize(raw) {
        Ok(link) => Some(link),
        Err(MasvError::InvalidLink(why)) => {
            tracing::warn!(%why, "ignoring an incoming link that is not a MASV link");
            None
        }
        Err(_) => None,
    }
}

/// The first MASV link in copied text (an email, a chat line, a bare link), or `None`.
/// Says nothing about the rest of the text, in the log or anywhere else: only a MASV
/// link is ever taken out of it.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // Clipboard capture: Linux so far.
pub fn find_in_text(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || "\"'<>()[]{}`".contains(c))
        .map(|word| word.trim_end_matches(['.', ',', ';', ':', '!', '?']))
        .filter(|word| word.to_ascii_lowercase().contains("massive."))
        .find_map(|word| normalize(word).ok())
}

fn normalize(raw: &str) -> Result<String, MasvError> {
    let raw = raw.trim();
    let lower = raw.to_ascii_lowercase();
    let candidate = ["masv:", "inbound:"]
        .iter()
        .find_map(|scheme| lower.starts_with(scheme).then(|| &raw[scheme.len()..]))
        .map(|rest| {
            let rest = rest.trim_start_matches('/');
            if rest.to_ascii_lowercase().starts_with("https:")
                || rest.to_ascii_lowercase().starts_with("http:")
            {
                rest.to_owned()
            } else {
                format!("https://{rest}")
            }
        })
        .unwrap_or_else(|| raw.to_owned());
    inbound_engine::parse_link(&candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_documented_form() {
        let want = Some("https://get.massive.app/ABC?secret=S".to_owned());
        for form in [
            "masv://get.massive.app/ABC?secret=S",
            "masv:https://get.massive.app/ABC?secret=S",
            "MASV://get.massive.app/ABC?secret=S&lang=en",
            "inbound://get.massive.app/ABC?secret=S",
            " https://get.massive.app/ABC?secret=S ",
            "https://get.massive.io/ABC?secret=S",
        ] {
            assert_eq!(normalize_incoming(form), want, "{form}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "masv://evil.example/ABC?secret=S",
            "masv:javascript:alert(1)",
            "https://get.massive.app/ABC",
            "--flag",
            "/home/user/file.txt",
            "inbound://get.massive.app/a/b?secret=S",
        ] {
            assert_eq!(normalize_incoming(bad), None, "{bad}");
        }
    }

    #[test]
    fn finds_a_link_in_copied_text_and_nothing_else() {
        let want = Some("https://get.massive.app/ABC?secret=S".to_owned());
        for text in [
            "https://get.massive.app/ABC?secret=S",
            "Hi, the rushes are at https://get.massive.app/ABC?secret=S. Thanks!",
            "<a href=\"https://get.massive.app/ABC?secret=S\">Day 2</a>",
            "(masv://get.massive.app/ABC?secret=S)",
            "first line\n\thttps://get.massive.app/ABC?secret=S\nlast line",
        ] {
            assert_eq!(find_in_text(text), want, "{text}");
        }
        for text in [
            "",
            "a grocery list",
            "https://get.massive.app/ABC",
            "https://evil.example/get.massive.app/ABC?secret=S",
            "password: hunter2",
        ] {
            assert_eq!(find_in_text(text), None, "{text}");
        }
    }
}
