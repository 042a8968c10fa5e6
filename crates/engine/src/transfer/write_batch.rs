//! Received pieces of one range, held until there are enough to write in one call.
//!
//! The pieces are the network's own buffers, written with one vectored `pwrite`: no
//! copy into a batch buffer, and what a connection holds is bounded by the batch size
//! plus one piece (never a buffer grown to twice its size by the piece that overflowed it).

use std::fs::File;
use std::io;

use bytes::Bytes;

/// Pieces are written once about this much has arrived: one write per network read
/// would take the file's lock (the kernel's, per inode) tens of thousands of times per
/// GiB, and with many connections writing one file they queue on it. Well under the
/// smallest range a steal leaves (`run::split::MIN_PIECE`), so a batch never reaches into a
/// stolen half.
pub(crate) const WRITE_BATCH: usize = 128 * 1024;

#[derive(Default)]
pub(crate) struct WriteBatch {
    pieces: Vec<Bytes>,
    len: usize,
}

impl WriteBatch {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len >= WRITE_BATCH
    }

    /// The pieces' bytes, in order.
    pub fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        self.pieces.iter().map(|p| &p[..])
    }

    pub fn push(&mut self, piece: Bytes) {
        self.len += piece.len();
        self.pieces.push(piece);
    }

    /// Keeps only the first `len` bytes (the range's end moved: another connection
    /// took the rest).
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        let mut kept = 0;
        let mut keep_pieces = 0;
        for piece in &mut self.pieces {
            if kept == len {
                break;
            }
            let room = len - kept;
            if piece.len() > room {
                piece.truncate(room);
            }
            kept += piece.len();
            keep_pieces += 1;
        }
        self.pieces.truncate(keep_pieces);
        self.len = kept;
    }

    /// Writes every piece in order from `offset` on, and empties the batch whatever
    /// happened.
    pub fn write_at(&mut self, file: &File, offset: u64) -> io::Result<()> {
        let written = write_all_vectored_at(file, &mut self.pieces, offset);
        self.pieces.clear();
        self.len = 0;
        written
    }
}

/// Writes the pieces one after another from `offset` without moving a shared cursor.
/// Consumes the pieces' bytes as they are written.
#[cfg(unix)]
fn write_all_vectored_at(file: &File, pieces: &mut [Bytes], mut offset: u64) -> io::Result<()> {
    use bytes::Buf;
    // The kernel takes at most IOV_MAX (1024) slices per call; a batch has a handful.
    const MAX_SLICES: usize = 64;
    let mut first = 0;
    while first < pieces.len() {
        let slices: Vec<io::IoSlice<'_>> = pieces[first..]
            .iter()
            .take(MAX_SLICES)
            .map(|p| io::IoSlice::new(p))
            .collect();
        let mut n = match rustix::io::pwritev(file, &slices, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e == rustix::io::Errno::INTR => continue,
            Err(e) => return Err(e.into()),
        };
        offset += n as u64;
        // A short write leaves the rest of a piece, and the pieces after it.
        while n > 0 {
            let piece = &mut pieces[first];
            let taken = n.min(piece.len());
            piece.advance(taken);
            n -= taken;
            if piece.is_empty() {
                first += 1;
            }
        }
        while first < pieces.len() && pieces[first].is_empty() {
            first += 1;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn write_all_vectored_at(file: &File, pieces: &mut [Bytes], mut offset: u64) -> io::Result<()> {
    for piece in pieces.iter() {
        crate::transfer::fsutil::write_all_at(file, piece, offset)?;
        offset += piece.len() as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(pieces: &[&'static [u8]]) -> WriteBatch {
        let mut b = WriteBatch::default();
        for p in pieces {
            b.push(Bytes::from_static(p));
        }
        b
    }

    #[test]
    fn pieces_land_in_order_at_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"..........").unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let mut b = batch(&[b"ab", b"", b"cde"]);
        assert_eq!(b.len(), 5);
        b.write_at(&file, 3).unwrap();
        assert!(b.is_empty());
        assert_eq!(std::fs::read(&path).unwrap(), b"...abcde..");
    }

    #[test]
    fn truncating_cuts_inside_a_piece_and_drops_the_rest() {
        let mut b = batch(&[b"abc", b"def", b"ghi"]);
        b.truncate(4);
        assert_eq!(b.len(), 4);
        let got: Vec<u8> = b.pieces.iter().flat_map(|p| p.iter().copied()).collect();
        assert_eq!(got, b"abcd");
        b.truncate(10);
        assert_eq!(b.len(), 4, "truncating past the end changes nothing");
        b.truncate(0);
        assert!(b.is_empty());
    }

    #[test]
    fn more_pieces_than_one_call_takes_are_all_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = std::fs::File::create(&path).unwrap();
        let mut b = WriteBatch::default();
        for i in 0..200u8 {
            b.push(Bytes::from(vec![i; 3]));
        }
        b.write_at(&file, 0).unwrap();
        let want: Vec<u8> = (0..200u8).flat_map(|i| [i; 3]).collect();
        assert_eq!(std::fs::read(&path).unwrap(), want);
    }
}
