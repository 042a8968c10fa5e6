use crate::Content;

/// A package reachable through one download link.
#[derive(Clone, Debug)]
pub struct SimPackage {
    pub link_id: String,
    pub secret: String,
    pub package_id: String,
    pub name: String,
    pub sender_email: String,
    pub password: Option<String>,
    pub expired: bool,
    /// When MASV deletes it; by default a week after each time the link is opened.
    pub expiry: Option<chrono::DateTime<chrono::Utc>>,
    pub files: Vec<SimFile>,
}

impl SimPackage {
    pub fn new(link_id: impl Into<String>, name: impl Into<String>) -> Self {
        let link_id = link_id.into();
        Self {
            secret: format!("{link_id}-secret"),
            package_id: format!("pkg-{link_id}"),
            link_id,
            name: name.into(),
            sender_email: "sender@example.com".into(),
            password: None,
            expired: false,
            expiry: None,
            files: Vec::new(),
        }
    }

    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    pub fn expired(mut self) -> Self {
        self.expired = true;
        self
    }

    /// Expires this long from now (until `Sim::set_expiry` or a team member changes it).
    pub fn expiring_in(mut self, d: chrono::Duration) -> Self {
        self.expiry = Some(chrono::Utc::now() + d);
        self
    }

    pub fn with_file(mut self, file: SimFile) -> Self {
        self.files.push(file);
        self
    }

    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.content.len()).sum()
    }

    /// The link a recipient would get by email.
    pub fn link(&self) -> String {
        format!(
            "https://get.massive.app/{}?secret={}",
            self.link_id, self.secret
        )
    }

    pub fn file(&self, name: &str) -> Option<&SimFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

/// One entry of a package's file list.
#[derive(Clone, Debug)]
pub struct SimFile {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub path: Option<String>,
    pub last_modified: String,
    pub virus: bool,
    pub content: Content,
}

impl SimFile {
    pub fn new(id: impl Into<String>, name: impl Into<String>, content: Content) -> Self {
        Self {
            id: id.into(),
            kind: "file",
            name: name.into(),
            path: None,
            last_modified: "2024-03-05T14:30:00Z".into(),
            virus: false,
            content,
        }
    }

    pub fn in_folder(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn virus(mut self) -> Self {
        self.virus = true;
        self
    }

    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    pub fn last_modified(mut self, rfc3339: impl Into<String>) -> Self {
        self.last_modified = rfc3339.into();
        self
    }
}
