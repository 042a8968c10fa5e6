//! The run's quick saves: every [`QUICK_SAVE_EVERY`], the pieces each connection wrote
//! since its last flush are saved with their digests, so a killed process costs only
//! what arrived since (see `unsynced`).

use std::collections::HashMap;

use crate::sync::lock;
use crate::transfer::unsynced::{QUICK_SAVE_EVERY, UnsyncedPiece};

use super::RunCtx;

/// A file's pieces are saved again once they hold this many new bytes: a trickle is
/// not worth a database write every few milliseconds, and neither is a piece that only
/// ended (flushed: its rows are covered by the range recorded).
const WORTH_SAVING: u64 = 256 * 1024;

/// Saves the run's unflushed pieces, as long as the run goes on.
pub(super) async fn keep_saving(ctx: &RunCtx) {
    let mut saved: HashMap<usize, Vec<UnsyncedPiece>> = HashMap::new();
    let mut every = tokio::time::interval(QUICK_SAVE_EVERY);
    // A slow disk makes the saves rarer rather than queue them.
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let changed: Vec<(usize, Vec<UnsyncedPiece>)> = pieces(ctx)
            .into_iter()
            .filter(|(idx, pieces)| new_bytes(saved.get(idx), pieces) >= WORTH_SAVING)
            .collect();
        if changed.is_empty() {
            continue;
        }
        // Off the runtime's threads: a commit waits on the disk.
        let (shared, id) = (ctx.shared.clone(), ctx.dl.id.clone());
        let result = tokio::task::spawn_blocking(move || {
            let result = shared.store().set_unsynced(&id, &changed);
            (result, changed)
        })
        .await;
        match result {
            Ok((Ok(()), written)) => saved.extend(written),
            // Only a kill before the next flush would cost these bytes: no reason to
            // stop the download.
            Ok((Err(e), _)) => {
                tracing::warn!(download = %ctx.dl.id, error = %e, "could not save progress quickly");
            }
            Err(e) => {
                tracing::warn!(download = %ctx.dl.id, error = %e, "could not save progress quickly");
            }
        }
    }
}

/// Bytes in `now` past what `before` saved of the same pieces (a piece is known by
/// where it starts).
fn new_bytes(before: Option<&Vec<UnsyncedPiece>>, now: &[UnsyncedPiece]) -> u64 {
    now.iter()
        .map(|p| {
            let saved_end = before
                .and_then(|b| b.iter().find(|s| s.start == p.start))
                .map_or(p.start, |s| s.end);
            p.end.saturating_sub(saved_end)
        })
        .sum()
}

/// Each file's unflushed pieces now, from the connections at work on its current epoch.
fn pieces(ctx: &RunCtx) -> HashMap<usize, Vec<UnsyncedPiece>> {
    let spans = lock(&ctx.inflight).clone();
    let mut by_file: HashMap<usize, Vec<UnsyncedPiece>> = HashMap::new();
    for span in spans {
        let current = ctx
            .dl
            .files
            .get(span.idx)
            .is_some_and(|f| f.epoch() == span.epoch);
        if let Some(piece) = lock(&span.unsynced).piece().filter(|_| current) {
            by_file.entry(span.idx).or_default().push(piece);
        }
    }
    for pieces in by_file.values_mut() {
        pieces.sort_by_key(|p| p.start);
    }
    by_file
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(start: u64, end: u64) -> UnsyncedPiece {
        UnsyncedPiece {
            start,
            end,
            digest: 0,
        }
    }

    #[test]
    fn only_bytes_past_what_was_saved_count() {
        assert_eq!(new_bytes(None, &[piece(0, 10), piece(100, 150)]), 60);
        let saved = vec![piece(0, 10), piece(100, 150)];
        assert_eq!(
            new_bytes(Some(&saved), &[piece(0, 30), piece(100, 150)]),
            20
        );
        // Flushed and begun again further on: a new piece.
        assert_eq!(new_bytes(Some(&saved), &[piece(10, 12)]), 2);
        assert_eq!(new_bytes(Some(&saved), &[]), 0, "nothing new to save");
    }
}
