//! Which application the desktop opens a `masv://` or `inbound://` link with: asked of
//! the desktop itself (xdg-mime on Linux, the registry's URL protocol on Windows, Launch
//! Services on macOS), so `inbound doctor` and the desktop app say the same.

/// Who opens links of a scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemeHandler {
    /// The command or application registered for it.
    Registered(String),
    /// Nothing is.
    None,
    /// The desktop could not be asked; why.
    Unknown(String),
}

impl SchemeHandler {
    /// Whether it is Inbound (any of its builds) that opens these links.
    pub fn is_inbound(&self) -> bool {
        matches!(self, Self::Registered(who) if who.to_ascii_lowercase().contains("inbound"))
    }
}

impl std::fmt::Display for SchemeHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Registered(who) => write!(f, "opened by {who}"),
            Self::None => f.write_str("no application registered"),
            Self::Unknown(why) => write!(f, "unknown ({why})"),
        }
    }
}

/// Asks the desktop who opens `scheme://` links. Blocks (runs a program or reads the
/// registry): call it off an async runtime's threads.
pub fn scheme_handler(scheme: &str) -> SchemeHandler {
    platform::handler(scheme)
}

#[cfg(all(unix, not(target_os = "macos")))]
mod platform {
    use super::SchemeHandler;

    pub fn handler(scheme: &str) -> SchemeHandler {
        let query = std::process::Command::new("xdg-mime")
            .args(["query", "default", &format!("x-scheme-handler/{scheme}")])
            .output();
        match query {
            Ok(out) if out.status.success() => named(String::from_utf8_lossy(&out.stdout).trim()),
            Ok(out) => SchemeHandler::Unknown(format!("xdg-mime said {}", out.status)),
            Err(e) => SchemeHandler::Unknown(format!("xdg-mime: {e}")),
        }
    }

    fn named(who: &str) -> SchemeHandler {
        if who.is_empty() {
            SchemeHandler::None
        } else {
            SchemeHandler::Registered(who.to_owned())
        }
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use super::SchemeHandler;

    /// Launch Services is asked through JavaScript for Automation (on every macOS
    /// since 10.10): NSWorkspace names the application a URL of the scheme opens in.
    pub fn handler(scheme: &str) -> SchemeHandler {
        if !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return SchemeHandler::Unknown(format!("'{scheme}' is not a scheme"));
        }
        let script = format!(
            "ObjC.import('AppKit'); var u = $.NSWorkspace.sharedWorkspace.URLForApplicationToOpenURL($.NSURL.URLWithString('{scheme}://probe')); u.isNil() ? '' : u.path.js"
        );
        let query = std::process::Command::new("/usr/bin/osascript")
            .args(["-l", "JavaScript", "-e", &script])
            .output();
        match query {
            Ok(out) if out.status.success() => {
                let app = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                if app.is_empty() {
                    SchemeHandler::None
                } else {
                    SchemeHandler::Registered(app)
                }
            }
            Ok(out) => SchemeHandler::Unknown(format!("osascript said {}", out.status)),
            Err(e) => SchemeHandler::Unknown(format!("osascript: {e}")),
        }
    }
}

#[cfg(windows)]
mod platform {
    use winreg::RegKey;
    use winreg::enums::{HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE, KEY_READ};

    use super::SchemeHandler;

    /// A URL protocol is a class with a `URL Protocol` value whose `shell\open\command`
    /// runs the handler. The user's classes come before the machine's, as Windows
    /// merges them into HKEY_CLASSES_ROOT (asked directly: Wine does not merge them).
    pub fn handler(scheme: &str) -> SchemeHandler {
        for root in [HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE] {
            let path = format!(r"Software\Classes\{scheme}");
            let Ok(class) = RegKey::predef(root).open_subkey_with_flags(&path, KEY_READ) else {
                continue;
            };
            if class.get_raw_value("URL Protocol").is_err() {
                continue;
            }
            return match class
                .open_subkey_with_flags(r"shell\open\command", KEY_READ)
                .and_then(|command| command.get_value::<String, _>(""))
            {
                Ok(command) if !command.trim().is_empty() => SchemeHandler::Registered(command),
                Ok(_) => SchemeHandler::None,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => SchemeHandler::None,
                Err(e) => SchemeHandler::Unknown(format!("the registry: {e}")),
            };
        }
        SchemeHandler::None
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_url_protocol_in_the_users_classes_is_found() {
            let scheme = format!("inbound-test-{}", std::process::id());
            assert_eq!(handler(&scheme), SchemeHandler::None);
            let user = RegKey::predef(HKEY_CURRENT_USER);
            let path = format!(r"Software\Classes\{scheme}");
            let (class, _) = user.create_subkey(&path).unwrap();
            class.set_value("URL Protocol", &"").unwrap();
            let (command, _) = class.create_subkey(r"shell\open\command").unwrap();
            command
                .set_value(
                    "",
                    &r#""C:\Program Files\Inbound\inbound-desktop.exe" "%1""#,
                )
                .unwrap();
            let found = handler(&scheme);
            user.delete_subkey_all(&path).unwrap();
            assert!(found.is_inbound(), "{found:?}");
            assert!(found.to_string().contains("inbound-desktop.exe"), "{found}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_is_recognised_by_name_in_any_build() {
        for who in [
            "inbound.desktop",
            r#""C:\Users\ed\AppData\Local\Inbound\inbound-desktop.exe" "%1""#,
            "/Applications/Inbound.app",
        ] {
            assert!(SchemeHandler::Registered(who.into()).is_inbound(), "{who}");
        }
        assert!(!SchemeHandler::Registered("masv-desktop.desktop".into()).is_inbound());
        assert!(!SchemeHandler::None.is_inbound());
        assert_eq!(SchemeHandler::None.to_string(), "no application registered");
    }
}
