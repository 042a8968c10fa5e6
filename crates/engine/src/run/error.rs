//! Why a step of a run could not go on, in the sentence a person reads.

/// A step of a run that failed. Its message is what the download shows.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    /// The record could not be written: what was fetched would not survive a restart.
    #[error("could not save progress: {0}")]
    Save(#[from] rusqlite::Error),
    /// Anything else, already said for a person (a file, a folder, a drive).
    #[error("{0}")]
    Said(String),
}

impl From<String> for RunError {
    fn from(message: String) -> Self {
        Self::Said(message)
    }
}

impl From<RunError> for super::RunEnd {
    fn from(e: RunError) -> Self {
        Self::Failed(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_the_sentences_people_read() {
        let save = RunError::from(rusqlite::Error::InvalidQuery);
        assert_eq!(
            save.to_string(),
            format!("could not save progress: {}", rusqlite::Error::InvalidQuery)
        );
        let said = RunError::from("B001.mov: the drive is full".to_owned());
        assert_eq!(said.to_string(), "B001.mov: the drive is full");
    }
}
