// The downloads as the UI sees them, kept current from engine events.
import type { DownloadSummary, EngineEvent } from './api';
import { formatBytes } from './format';
import { savedPath } from './names';
import type { FileInfo } from './bindings/FileInfo';
import type { HeldBack } from './bindings/HeldBack';
import type { Checking } from './bindings/Checking';
import type { VerifySummary } from './bindings/VerifySummary';
import type { Waiting } from './bindings/Waiting';

/** A "Verify again" in flight or done. */
export interface Check {
  running: boolean;
  result?: VerifySummary;
  error?: string;
}

export interface Live {
  rate: number;
  eta: number | null;
  /** Connections fetching the package now. */
  connections: number;
  /** What makes it slower than the network would, when the engine can tell. */
  heldBack: HeldBack | null;
  /** Downloaded again: how far the look at the files already there is. */
  checking: Checking | null;
}

/** The list as the queue runs it: unfinished downloads by priority (higher first), the
 * older first among equals, as the engine starts them; then the completed, newest first. */
export function queueOrder(items: DownloadSummary[]): DownloadSummary[] {
  const open = items
    .filter((d) => d.state !== 'complete')
    .sort((a, b) => b.priority - a.priority || a.created_at - b.created_at);
  const done = items
    .filter((d) => d.state === 'complete')
    .sort((a, b) => (b.completed_at ?? 0) - (a.completed_at ?? 0));
  return [...open, ...done];
}

export type Move = 'top' | 'up' | 'down' | 'bottom';

/** The unfinished downloads' ids in their new order once `id` moves; null when it
 * cannot move that way (already there, or finished). `before`: dropped onto that one. */
export function movedOrder(items: DownloadSummary[], id: string, move: Move | { before: string }): string[] | null {
  const ids = queueOrder(items)
    .filter((d) => d.state !== 'complete')
    .map((d) => d.id);
  const from = ids.indexOf(id);
  if (from < 0) return null;
  const rest = ids.filter((x) => x !== id);
  let to: number;
  if (typeof move === 'object') {
    to = rest.indexOf(move.before);
    if (to < 0) return null;
  } else {
    to = { top: 0, up: from - 1, down: from + 1, bottom: rest.length }[move];
  }
  if (to < 0 || to > rest.length || to === from) return null;
  rest.splice(to, 0, id);
  return rest;
}

/** Samples kept for the speed graphs: three minutes at one a second. */
export const SPEED_SAMPLES = 180;

export class DownloadsStore {
  items = $state<DownloadSummary[]>([]);
  live = $state<Record<string, Live>>({});
  /** Files of the downloads whose file list was opened. */
  files = $state<Record<string, FileInfo[]>>({});

  totalRate = $derived(
    this.items.reduce((sum, d) => sum + (d.state === 'transferring' ? (this.live[d.id]?.rate ?? 0) : 0), 0),
  );
  /** The last few minutes of throughput, one sample a second: each download's and the
   * whole app's (bytes per second, oldest first). */
  speeds = $state<Record<string, number[]>>({});
  totalSpeeds = $state<number[]>([]);

  /** Takes this second's sample of every transferring download and of the total. */
  sample(): void {
    const keep = (list: number[], value: number) => {
      list.push(value);
      if (list.length > SPEED_SAMPLES) list.splice(0, list.length - SPEED_SAMPLES);
    };
    for (const d of this.items) {
      if (d.state !== 'transferring') continue;
      this.speeds[d.id] ??= [];
      keep(this.speeds[d.id]!, this.live[d.id]?.rate ?? 0);
    }
    if (this.totalRate > 0 || this.totalSpeeds.length > 0) keep(this.totalSpeeds, this.totalRate);
  }

  setAll(list: DownloadSummary[]): void {
    this.items = [...list].sort((a, b) => b.created_at - a.created_at);
  }

  get(id: string): DownloadSummary | undefined {
    return this.items.find((d) => d.id === id);
  }

  /** A fresher copy of one download (what events do not carry: its hashes, its manifest). */
  replace(summary: DownloadSummary): void {
    const i = this.items.findIndex((d) => d.id === summary.id);
    if (i >= 0) this.items[i] = summary;
  }

  setFiles(id: string, files: FileInfo[]): void {
    this.files[id] = files;
  }

  apply(e: EngineEvent): void {
    switch (e.type) {
      case 'added':
        // Known already: a link added while MASV was out of reach, now listed under
        // the same id (its name, folder and files are new).
        if (this.get(e.download.id)) this.replace(e.download);
        else this.items.unshift(e.download);
        break;
      case 'state_changed': {
        const d = this.get(e.id);
        if (!d) break;
        d.state = e.state;
        d.error = e.error;
        if (e.state !== 'transferring') delete this.live[e.id];
        if (e.state === 'complete') {
          d.bytes_done = d.total_bytes;
          d.completed_at = Math.floor(Date.now() / 1000);
        }
        break;
      }
      case 'file_state_changed': {
        const d = this.get(e.id);
        const f = this.files[e.id]?.[e.index];
        if (f) {
          f.state = e.state;
          f.error = e.error;
          if (e.state === 'complete') f.bytes_done = f.size;
        }
        if (d && e.state === 'complete') d.files_complete += 1;
        if (d && e.state === 'virus_withheld') {
          const name = f?.package_path;
          if (name && !d.virus_files.includes(name)) d.virus_files.push(name);
        }
        break;
      }
      case 'progress':
        for (const p of e.downloads) {
          const d = this.get(p.id);
          // Progress is sent in batches and can arrive after the completion it led to:
          // a completed package keeps its whole size.
          if (!d || d.state === 'complete') continue;
          d.bytes_done = p.bytes_done;
          d.total_bytes = p.total_bytes;
          this.live[p.id] = { rate: p.rate, eta: p.eta_secs, connections: p.connections, heldBack: p.held_back ?? null, checking: p.checking ?? null };
          const files = this.files[p.id];
          if (files) {
            for (const fp of p.files) {
              const f = files[fp.index];
              if (!f) continue;
              f.bytes_done = fp.bytes_done;
              // Bytes arriving mean it is transferring, even before the state event
              // (which can trail the progress) says so: never "Waiting" beside a
              // moving bar.
              if (f.state === 'pending' && fp.bytes_done > 0) f.state = 'transferring';
            }
          }
        }
        break;
      case 'priority_changed': {
        const d = this.get(e.id);
        if (d) d.priority = e.priority;
        break;
      }
      case 'schedule':
        break;
      case 'expiry_changed': {
        const d = this.get(e.id);
        if (d) d.expires_at = e.expires_at;
        break;
      }
      // The desktop turns it into a notification; the card counts down by itself.
      case 'expires_soon':
        break;
      case 'after_download': {
        const d = this.get(e.id);
        if (d) d.after_error = e.error;
        break;
      }
      case 'waiting': {
        const d = this.get(e.id);
        if (d) d.waiting = e.waiting;
        break;
      }
      case 'removed':
        this.items = this.items.filter((d) => d.id !== e.id);
        delete this.live[e.id];
        delete this.files[e.id];
        break;
    }
  }
}

/** Added while MASV could not be reached: its package (name, files, sizes) is not known yet. */
export function isUnlisted(d: DownloadSummary): boolean {
  return d.package_id === '' && d.origin.kind === 'link';
}

/** "40 s" or "2 min 05 s" until `at` (Unix seconds); null once it has passed. */
function countdown(at: number, nowSecs: number): string | null {
  const left = Math.ceil(at - nowSecs);
  if (left <= 0) return null;
  return left < 60 ? `${left} s` : `${Math.floor(left / 60)} min ${String(left % 60).padStart(2, '0')} s`;
}

const WAITING_FOR: Record<'network' | 'masv' | 'rate_limited', string> = {
  network: 'Waiting for network',
  // The network works and MASV answers with server errors: MASV is named, so nobody
  // goes looking for a fault in their own Wi-Fi.
  masv: 'MASV cannot be reached',
  rate_limited: 'MASV asked to slow down',
};

/** What a waiting download shows, counting down to its next try ("trying again now"
 * while that try is under way). Waiting for space or for its drive, the engine's
 * message says where and what is missing. */
export function waitingLabel(w: Waiting, nowSecs: number): string {
  const left = countdown(w.retry_at, nowSecs);
  if (w.reason === 'space' || w.reason === 'drive' || w.reason === 'schedule') {
    const again = left ? `looking again in ${left}` : 'looking again now';
    return `${w.message.charAt(0).toUpperCase()}${w.message.slice(1)} — ${again}`;
  }
  return `${WAITING_FOR[w.reason]} — ${retryCountdown(w.retry_at, nowSecs)}`;
}

/** "next try in 40 s", or "trying again now" once `retryAt` (Unix seconds) has passed. */
export function retryCountdown(retryAt: number, nowSecs: number): string {
  const left = countdown(retryAt, nowSecs);
  return left ? `next try in ${left}` : 'trying again now';
}

/** The card's line about a completed package's proof. */
export function verifiedLabel(d: DownloadSummary): string | null {
  if (d.state !== 'complete' || d.files_verified === 0) return null;
  const files = `${d.files_verified} file${d.files_verified === 1 ? '' : 's'}`;
  return `${files} · ${d.hash_algorithm ?? 'hash'}${d.manifest ? ' · ASC MHL manifest' : ''}`;
}

/** What a verification found that differs from what was delivered (changed or
 * missing files), as "1 file: Day 1/b.wav"; null when everything delivered matches. */
export function changedSinceDelivery(s: VerifySummary): string | null {
  const differs = [...s.changed, ...s.missing];
  if (differs.length === 0) return null;
  const shown = differs.slice(0, 3).join(', ') + (differs.length > 3 ? `, and ${differs.length - 3} more` : '');
  return `${differs.length} file${differs.length === 1 ? '' : 's'}: ${shown}`;
}

/** What a verification found, in a sentence. */
export function checkLabel(s: VerifySummary): string {
  const problems = [
    s.changed.length ? `${s.changed.length} changed (${s.changed.join(', ')})` : '',
    s.missing.length ? `${s.missing.length} missing (${s.missing.join(', ')})` : '',
    s.extra.length ? `${s.extra.length} not in the manifest (${s.extra.join(', ')})` : '',
  ].filter(Boolean);
  if (problems.length === 0) return `Verified again: all ${s.ok} file${s.ok === 1 ? '' : 's'} match.`;
  return `Verified again: ${s.ok} match; ${problems.join('; ')}.`;
}

export function actionsFor(state: DownloadSummary['state']): Array<'pause' | 'resume' | 'retry'> {
  switch (state) {
    case 'queued':
    case 'transferring':
      return ['pause'];
    case 'paused':
      return ['resume'];
    case 'error':
      return ['retry'];
    case 'complete':
      return [];
  }
}

/** Why a transferring package is slower than the network would let it be. */
export const HELD_BACK: Record<HeldBack, { label: string; why: string }> = {
  storage_busy: {
    label: 'MASV storage is limiting connections',
    why: 'MASV’s storage answered “too many requests”; Inbound runs fewer connections, as it asked, and goes on',
  },
  disk_slow: {
    label: 'Slowed by the disk',
    why: 'Writing to the destination takes most of the time: the disk or network share is slower than the download',
  },
};

/** "Checking the files already here: 1 of 3 (40%)". */
export function checkingLabel(c: Checking): string {
  return `Checking the files already here: ${c.files_done} of ${c.files} (${Math.floor(c.bytes > 0 ? (100 * c.bytes_done) / c.bytes : 100)}%)`;
}

/** What tells a package apart from another of the same name: the folder it went to,
 * when it was added, and its link's short id: in “Rushes (1)” · added 14:02 · link 01HX4Z9Q. */
export function tellApart(d: DownloadSummary, nowSecs: number): string {
  const folder = d.dst_folder.split(/[\\/]/).filter(Boolean).at(-1) ?? d.dst_folder;
  const added = new Date(d.created_at * 1000);
  const sameDay = new Date(nowSecs * 1000).toDateString() === added.toDateString();
  const when = sameDay
    ? added.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : added.toLocaleDateString([], { day: 'numeric', month: 'short', year: added.getFullYear() === new Date(nowSecs * 1000).getFullYear() ? undefined : 'numeric' });
  // The link's id, up to its secret (which the summary has replaced by ***).
  const linkId = d.origin.kind === 'link' ? /massive\.(?:app|io)\/([^/?#]+)/.exec(d.link)?.[1] : undefined;
  return [`in “${folder}”`, `added ${when}`, linkId ? `link ${linkId.slice(0, 8)}` : null].filter(Boolean).join(' · ');
}

/** The card's state: a transferring download that waits says so. */
export function stateLabel(d: DownloadSummary): string {
  return d.state === 'transferring' && d.waiting && d.waiting.reason !== 'schedule' ? 'Waiting' : STATE_LABEL[d.state];
}

export const STATE_LABEL: Record<DownloadSummary['state'], string> = {
  queued: 'Queued',
  transferring: 'Downloading',
  paused: 'Paused',
  complete: 'Complete',
  error: 'Failed',
};

/** "9 files", or "6 of 9 files" when some of the package are not fetched (see
 * `filesNote` for why): the "6" is what arrives, as "Verified 6 files" counts it. */
export function filesLabel(d: DownloadSummary): string {
  const files = `${d.file_count} file${d.file_count === 1 ? '' : 's'}`;
  const fetched = d.files_chosen - d.virus_files.length - d.files_skipped;
  return fetched < d.file_count ? `${fetched} of ${files}` : files;
}

/** Why some files of the package are not fetched: "1 withheld for a virus, 1 archive
 * whose files come one by one, 2 not chosen"; null when every file is. */
export function filesNote(d: DownloadSummary): string | null {
  const notChosen = d.file_count - d.files_chosen;
  const parts = [
    d.virus_files.length ? `${d.virus_files.length} withheld for a virus` : '',
    d.files_skipped ? `${d.files_skipped} archive${d.files_skipped === 1 ? ' whose' : 's whose'} files come one by one` : '',
    notChosen ? `${notChosen} not chosen` : '',
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : null;
}

/** A package as text, for "Copy summary": what it is, where it is, each file with its
 * size and hash. */
export function packageSummaryText(d: DownloadSummary, files: FileInfo[]): string {
  const lines = [`${d.name}${d.sender_email ? ` (from ${d.sender_email})` : ''}`, `Folder: ${d.dst_folder}`];
  const verified = verifiedLabel(d);
  lines.push(`${filesLabel(d)}, ${formatBytes(d.total_bytes)}${verified ? `, verified: ${verified}` : ''}`);
  if (d.manifest) lines.push(`ASC MHL manifest: ${d.manifest}`);
  lines.push('');
  for (const f of files) {
    if (f.state === 'excluded') continue;
    const hash = f.hash ? `${f.hash.algorithm} ${f.hash.value}` : f.state === 'virus_withheld' ? 'withheld (virus)' : f.state;
    lines.push(`${savedPath(f)}\t${formatBytes(f.size)}\t${hash}`);
  }
  return lines.join('\n');
}
