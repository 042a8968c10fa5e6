use url::Url;

use crate::{MasvError, Secret};

const LINK_HOSTS: &[&str] = &["get.massive.app", "get.massive.io"];

/// A parsed MASV download link: `https://get.massive.app/{LINK_ID}?secret={SECRET}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRef {
    pub id: String,
    pub secret: Secret,
}

impl LinkRef {
    /// Parses a link as a person pastes it: surrounding whitespace is ignored, the
    /// `secret` parameter is read by name and other parameters (`lang`, ...) are ignored.
    pub fn parse(input: &str) -> Result<Self, MasvError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(invalid("the link is empty"));
        }
        let url = Url::parse(trimmed).map_err(|_| {
            invalid("it is not a web address; paste the whole link, starting with https://get.massive.app/")
        })?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(invalid("it must start with https://"));
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if !LINK_HOSTS.contains(&host.as_str()) {
            return Err(invalid(
                "it is not a MASV download link (expected get.massive.app or get.massive.io)",
            ));
        }
        let mut segments = url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).collect::<Vec<_>>())
            .unwrap_or_default();
        let id = match (segments.pop(), segments.is_empty()) {
            (Some(id), true) if is_plain_id(id) => id.to_owned(),
            _ => return Err(invalid("the link has no package id after the host name")),
        };
        let secret = url
            .query_pairs()
            .find(|(k, _)| k == "secret")
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid("the link has no secret; copy the whole link from the email"))?;
        Ok(Self {
            id,
            secret: Secret::new(secret),
        })
    }

    /// The link as a person can safely see it: the secret is replaced by `***`.
    pub fn redacted(&self) -> String {
        format!("https://get.massive.app/{}?secret=***", self.id)
    }

    /// The full link including its secret. Only for storage the user alone can read.
    /// The secret is percent-encoded, so one with `+ & # %` parses back unchanged.
    pub fn to_url_with_secret(&self) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("secret", self.secret.expose())
            .finish();
        format!("https://get.massive.app/{}?{query}", self.id)
    }
}

fn is_plain_id(id: &str) -> bool {
    id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn invalid(why: &str) -> MasvError {
    MasvError::InvalidLink(why.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_hosts_with_extra_parameters_and_whitespace() {
        let a =
            LinkRef::parse("  https://get.massive.app/ABC123?lang=fr&secret=s3cr3t \n").unwrap();
        assert_eq!(a.id, "ABC123");
        assert_eq!(a.secret.expose(), "s3cr3t");
        let b = LinkRef::parse("https://get.massive.io/xyz_9?secret=abc").unwrap();
        assert_eq!(b.id, "xyz_9");
    }

    #[test]
    fn rejects_foreign_hosts_missing_secret_and_garbage() {
        for bad in [
            "",
            "hello",
            "https://example.com/ABC?secret=x",
            "https://get.massive.app/ABC",
            "https://get.massive.app/ABC?secret=",
            "https://get.massive.app/?secret=x",
            "https://get.massive.app/a/b?secret=x",
            "ftp://get.massive.app/ABC?secret=x",
        ] {
            let err = LinkRef::parse(bad).unwrap_err();
            assert!(matches!(err, MasvError::InvalidLink(_)), "{bad}: {err:?}");
        }
    }

    #[test]
    fn redaction_and_errors_never_show_the_secret() {
        let l = LinkRef::parse("https://get.massive.app/ABC?secret=topsecret").unwrap();
        assert!(!l.redacted().contains("topsecret"));
        assert!(!format!("{l:?}").contains("topsecret"));
        assert!(l.to_url_with_secret().contains("topsecret"));
    }

    #[test]
    fn secrets_with_reserved_characters_survive_a_round_trip() {
        // As stored for a restart and parsed again: `+ & # %` and spaces must come back
        // as they were.
        for secret in ["a+b", "a&b=c", "x#y", "100%", "s p a c e", "é/?;"] {
            let link = LinkRef {
                id: "ABC".into(),
                secret: Secret::new(secret.to_owned()),
            };
            let again = LinkRef::parse(&link.to_url_with_secret()).unwrap();
            assert_eq!(again.secret.expose(), secret);
            assert_eq!(again.id, "ABC");
        }
    }
}
