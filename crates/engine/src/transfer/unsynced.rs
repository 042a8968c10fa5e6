//! Bytes written but not yet flushed, saved cheaply and often, so that a killed
//! process costs what arrived since the last quick save rather than since the last
//! flush.
//!
//! A range is recorded for good only after `fdatasync` (a power cut must never leave a
//! record of bytes the disk does not have), and a flush costs enough to be taken every
//! few megabytes or every second per connection: at 20 MiB/s on 32 connections, a kill
//! would throw away hundreds of megabytes. Yet a killed process loses nothing the kernel
//! already holds: its writes are in the page cache, read back as written, and reach the
//! disk anyway. So between flushes each connection's written piece is saved every
//! [`QUICK_SAVE_EVERY`] without one, with the xxh3 digest of its bytes. The next run
//! reads each piece back and takes it up only if its bytes still match (after a power
//! cut, or a drive pulled before the kernel wrote to it, they do not, and the piece is
//! fetched again); what it takes up it flushes and records as any range.

use std::fs::File;
use std::io;
use std::time::Duration;

use xxhash_rust::xxh3::Xxh3;

use crate::transfer::fsutil::read_at;

/// How often the run saves its connections' unflushed pieces.
pub(crate) const QUICK_SAVE_EVERY: Duration = Duration::from_millis(25);

/// Read back this much at a time when checking a piece.
const READ_CHUNK: usize = 1024 * 1024;

/// One connection's bytes `[start, end)` written since its last flush, and their digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnsyncedPiece {
    pub start: u64,
    pub end: u64,
    pub digest: u64,
}

/// What one connection wrote since its last flush, digested as it is written.
pub(crate) struct Unsynced {
    start: u64,
    end: u64,
    digest: Xxh3,
}

impl Unsynced {
    /// Nothing written yet from `at` on.
    pub fn new(at: u64) -> Self {
        Self {
            start: at,
            end: at,
            digest: Xxh3::new(),
        }
    }

    /// The next bytes written, in order, right after what this holds.
    pub fn wrote<'a>(&mut self, pieces: impl IntoIterator<Item = &'a [u8]>) {
        for piece in pieces {
            self.digest.update(piece);
            self.end += piece.len() as u64;
        }
    }

    /// Everything up to `at` is flushed and recorded; the next piece starts there.
    pub fn flushed(&mut self, at: u64) {
        *self = Self::new(at);
    }

    /// The piece written since the last flush, if any.
    pub fn piece(&self) -> Option<UnsyncedPiece> {
        (self.end > self.start).then(|| UnsyncedPiece {
            start: self.start,
            end: self.end,
            digest: self.digest.digest(),
        })
    }
}

/// Whether `file` still holds the bytes `piece` was saved with.
pub(crate) fn still_there(file: &File, piece: &UnsyncedPiece) -> io::Result<bool> {
    let mut digest = Xxh3::new();
    let len = usize::try_from(piece.end.saturating_sub(piece.start)).unwrap_or(usize::MAX);
    let mut buf = vec![0u8; READ_CHUNK.min(len)];
    let mut at = piece.start;
    while at < piece.end {
        let want = usize::try_from(piece.end - at).map_or(buf.len(), |left| left.min(buf.len()));
        let n = read_at(file, &mut buf[..want], at)?;
        if n == 0 {
            // Shorter than the piece: not what was written.
            return Ok(false);
        }
        digest.update(&buf[..n]);
        at += n as u64;
    }
    Ok(digest.digest() == piece.digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_is_taken_only_while_its_bytes_are_the_ones_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.inbound-part");
        let data: Vec<u8> = (0..3 * READ_CHUNK + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut unsynced = Unsynced::new(100);
        assert_eq!(unsynced.piece(), None, "nothing written yet");
        let body = &data[100..];
        unsynced.wrote([&body[..5], &body[5..READ_CHUNK], &body[READ_CHUNK..]]);
        let piece = unsynced.piece().unwrap();
        assert_eq!((piece.start, piece.end), (100, data.len() as u64));
        let file = File::open(&path).unwrap();
        assert!(still_there(&file, &piece).unwrap());

        // A power cut: the kernel never wrote the last bytes.
        let mut lost = data.clone();
        lost[data.len() - 1] = 0;
        std::fs::write(&path, &lost).unwrap();
        assert!(!still_there(&File::open(&path).unwrap(), &piece).unwrap());
        // Or the file is shorter than the piece.
        std::fs::write(&path, &data[..200]).unwrap();
        assert!(!still_there(&File::open(&path).unwrap(), &piece).unwrap());

        unsynced.flushed(piece.end);
        assert_eq!(
            unsynced.piece(),
            None,
            "flushed: nothing left to save quickly"
        );
    }
}
