//! Who a download's written files and folders are to belong to (the MASV Agent's
//! `uid`/`gid`, for NAS targets).

use serde::{Deserialize, Serialize};

/// Who the written files and folders belong to; a part left out stays as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Owner {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl Owner {
    pub fn is_empty(&self) -> bool {
        self.uid.is_none() && self.gid.is_none()
    }

    pub(crate) fn describe(&self) -> String {
        match (self.uid, self.gid) {
            (Some(u), Some(g)) => format!("uid {u} and gid {g}"),
            (Some(u), None) => format!("uid {u}"),
            (None, Some(g)) => format!("gid {g}"),
            (None, None) => "their owner".into(),
        }
    }
}
