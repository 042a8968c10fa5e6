import { describe, expect, it } from 'vitest';
import type { DownloadSummary } from './api';
import type { FileInfo } from './bindings/FileInfo';
import { actionsFor, checkLabel, DownloadsStore, filesLabel, filesNote, movedOrder, queueOrder, SPEED_SAMPLES, stateLabel, tellApart, verifiedLabel, waitingLabel } from './downloads.svelte';
import { buildTree, downloadChoice } from './filetree';

function summary(id: string, over: Partial<DownloadSummary> = {}): DownloadSummary {
  return {
    id, name: `pkg ${id}`, package_id: 'p', sender_email: 's@e', link: 'https://get.massive.app/x?secret=***', origin: { kind: 'link' },
    dst_folder: '/tmp', state: 'transferring', error: null, total_bytes: 1000, bytes_done: 0, file_count: 2, files_chosen: 2,
    files_complete: 0, files_skipped: 0, virus_files: [], created_at: 1, completed_at: null, expires_at: null,
    files_verified: 0, hash_algorithm: null, manifest: null, waiting: null, connections: 0, priority: 0, after_error: null, rate_limit: null, ...over,
  };
}

function file(index: number, size = 500): FileInfo {
  return { index, file_id: `f${index}`, kind: 'file', package_path: `dir/f${index}`, path: `dir/f${index}`, size,
    bytes_done: 0, state: 'pending', error: null, virus_detected: false,
    hash: null, verified: false, kept_aside: null };
}

describe('DownloadsStore', () => {
  it('takes a waiting link, once listed, as the same download with its package', () => {
    const s = new DownloadsStore();
    s.apply({ type: 'added', download: summary('w', { name: 'Link abc', file_count: 0, total_bytes: 0 }) });
    s.apply({ type: 'added', download: summary('w', { name: 'Day 2 rushes', file_count: 3, total_bytes: 9000 }) });
    expect(s.items).toHaveLength(1);
    expect(s.get('w')?.name).toBe('Day 2 rushes');
    expect(s.get('w')?.file_count).toBe(3);
  });


  it('keeps a completed package whole when an older progress batch arrives after', () => {
    const s = new DownloadsStore();
    s.apply({ type: 'added', download: summary('late') });
    s.apply({ type: 'state_changed', id: 'late', state: 'complete', error: null });
    s.apply({ type: 'progress', downloads: [{ id: 'late', bytes_done: 993, total_bytes: 1000, rate: 10, eta_secs: 1, files: [], connections: 3, held_back: null, checking: null }] });
    expect(s.get('late')?.bytes_done).toBe(1000);
  });

  it('follows a download from added to complete', () => {
    const s = new DownloadsStore();
    s.apply({ type: 'added', download: summary('a', { state: 'queued' }) });
    s.apply({ type: 'added', download: summary('a') });
    expect(s.items).toHaveLength(1);
    expect(s.get('a')?.state).toBe('transferring');
    s.apply({ type: 'state_changed', id: 'a', state: 'transferring', error: null });
    s.setFiles('a', [file(0), file(1)]);
    s.apply({ type: 'progress', downloads: [{ id: 'a', bytes_done: 600, total_bytes: 1000, rate: 2048, eta_secs: 1,
      files: [{ index: 1, bytes_done: 100, rate: 0 }], connections: 6, held_back: 'disk_slow', checking: null }] });
    expect(s.live.a?.connections).toBe(6);
    expect(s.live.a?.heldBack).toBe('disk_slow');
    expect(s.get('a')?.bytes_done).toBe(600);
    expect(s.files.a?.[1]?.bytes_done).toBe(100);
    // Its bytes are moving: it no longer reads "Waiting", whatever the state event says later.
    expect(s.files.a?.[1]?.state).toBe('transferring');
    expect(s.files.a?.[0]?.state).toBe('pending');
    expect(s.totalRate).toBe(2048);
    s.apply({ type: 'file_state_changed', id: 'a', index: 0, state: 'complete', error: null });
    expect(s.files.a?.[0]?.bytes_done).toBe(500);
    expect(s.get('a')?.files_complete).toBe(1);
    s.apply({ type: 'state_changed', id: 'a', state: 'complete', error: null });
    expect(s.get('a')?.bytes_done).toBe(1000);
    expect(s.totalRate).toBe(0);
  });

  it('keeps errors, virus files and removals', () => {
    const s = new DownloadsStore();
    s.setAll([summary('old', { created_at: 1 }), summary('new', { created_at: 2 })]);
    expect(s.items.map((d) => d.id)).toEqual(['new', 'old']);
    s.setFiles('old', [file(0)]);
    s.apply({ type: 'file_state_changed', id: 'old', index: 0, state: 'virus_withheld', error: null });
    expect(s.get('old')?.virus_files).toEqual(['dir/f0']);
    s.apply({ type: 'state_changed', id: 'new', state: 'error', error: 'disk full' });
    expect(s.get('new')?.error).toBe('disk full');
    s.apply({ type: 'removed', id: 'new' });
    expect(s.items.map((d) => d.id)).toEqual(['old']);
  });

  it('offers the actions that make sense in each state', () => {
    expect(actionsFor('transferring')).toEqual(['pause']);
    expect(actionsFor('queued')).toEqual(['pause']);
    expect(actionsFor('paused')).toEqual(['resume']);
    expect(actionsFor('error')).toEqual(['retry']);
    expect(actionsFor('complete')).toEqual([]);
  });
});

describe('verified delivery', () => {
  it('shows the proof of a completed package and nothing before', () => {
    expect(verifiedLabel(summary('a', { files_verified: 3, hash_algorithm: 'xxh128' }))).toBeNull();
    expect(verifiedLabel(summary('a', { state: 'complete', files_verified: 12, hash_algorithm: 'xxh128', manifest: '/d/ascmhl/0001.mhl' })))
      .toBe('12 files · xxh128 · ASC MHL manifest');
    expect(verifiedLabel(summary('a', { state: 'complete', files_verified: 1, hash_algorithm: 'md5' }))).toBe('1 file · md5');
    expect(verifiedLabel(summary('a', { state: 'complete', files_verified: 0 }))).toBeNull();
  });

  it('names every file a verification found wrong', () => {
    const clean = { ok: 7, changed: [], missing: [], extra: [], algorithms: ['xxh128'], recorded: '/d/ascmhl/0002.mhl' };
    expect(checkLabel(clean)).toBe('Verified again: all 7 files match.');
    expect(checkLabel({ ...clean, ok: 5, changed: ['a.mov'], missing: ['b.jpg'] }))
      .toBe('Verified again: 5 match; 1 changed (a.mov); 1 missing (b.jpg).');
  });

  it('takes a fresher summary of one download on completion', () => {
    const s = new DownloadsStore();
    s.setAll([summary('a'), summary('b')]);
    s.replace(summary('a', { state: 'complete', files_verified: 2, manifest: '/m' }));
    expect(s.get('a')?.manifest).toBe('/m');
    expect(s.get('b')?.manifest).toBeNull();
    s.replace(summary('gone'));
    expect(s.items).toHaveLength(2);
  });
});

describe('waiting for the network', () => {
  it('follows the engine and counts down to the next try', () => {
    const s = new DownloadsStore();
    s.setAll([summary('a')]);
    const waiting = { reason: 'network' as const, message: 'could not connect to the server', retry_at: 1000 };
    s.apply({ type: 'waiting', id: 'a', waiting });
    expect(s.get('a')?.waiting).toEqual(waiting);
    expect(waitingLabel(waiting, 960)).toBe('Waiting for network — next try in 40 s');
    expect(waitingLabel(waiting, 875)).toBe('Waiting for network — next try in 2 min 05 s');
    expect(waitingLabel(waiting, 1001)).toBe('Waiting for network — trying again now');
    // MASV asked to slow down: said as such, not as a network outage.
    const limited = { reason: 'rate_limited' as const, message: 'MASV is rate limiting requests', retry_at: 1000 };
    expect(waitingLabel(limited, 990)).toBe('MASV asked to slow down — next try in 10 s');
    // MASV down while the network works: MASV is named, not the network.
    const down = { reason: 'masv' as const, message: 'MASV cannot be reached (server answered 503 Service Unavailable)', retry_at: 1000 };
    expect(waitingLabel(down, 988)).toBe('MASV cannot be reached — next try in 12 s');
    // The drive is full: where, and how much is missing, from the engine.
    const space = {
      reason: 'space' as const,
      message: 'waiting for space on the drive of /Volumes/Shuttle: 52.0 MB to download and 64.0 MB to spare, 20.0 MB free; free 96.0 MB (or choose another folder)',
      retry_at: 1000,
    };
    expect(waitingLabel(space, 988)).toBe(
      'Waiting for space on the drive of /Volumes/Shuttle: 52.0 MB to download and 64.0 MB to spare, 20.0 MB free; free 96.0 MB (or choose another folder) — looking again in 12 s',
    );
    // Its drive is unplugged: which folder, and what to do, from the engine.
    const drive = {
      reason: 'drive' as const,
      message: 'the folder /Volumes/Shuttle/Rushes is gone: is the drive connected? Inbound goes on by itself once it is back',
      retry_at: 1000,
    };
    expect(waitingLabel(drive, 970)).toBe(
      'The folder /Volumes/Shuttle/Rushes is gone: is the drive connected? Inbound goes on by itself once it is back — looking again in 30 s',
    );
    s.apply({ type: 'waiting', id: 'a', waiting: null });
    expect(s.get('a')?.waiting).toBeNull();
  });

  it('tells packages of one name apart by folder, time added and link', () => {
    const d = summary('a');
    d.dst_folder = '/Users/ed/Downloads/MASV/Quirky Package (2)';
    d.link = 'https://get.massive.app/01HX4Z9QABCDEF?secret=***';
    d.origin = { kind: 'link' };
    d.created_at = new Date(2026, 11, 6, 14, 2).getTime() / 1000;
    const sameDay = new Date(2026, 11, 6, 18, 0).getTime() / 1000;
    expect(tellApart(d, sameDay)).toMatch(/^in “Quirky Package \(2\)” · added 0?2:02( PM)?|^in “Quirky Package \(2\)” · added 14:02/);
    expect(tellApart(d, sameDay)).toContain(' · link 01HX4Z9Q');
    expect(tellApart(d, sameDay + 86400)).not.toMatch(/added \d\d:\d\d/);
    d.dst_folder = 'D:\\Deliveries\\Quirky Package';
    expect(tellApart(d, sameDay)).toMatch(/^in “Quirky Package”/);
  });

  it('calls a download that waits "Waiting", not "Downloading"', () => {
    const d = summary('a');
    d.state = 'transferring';
    expect(stateLabel(d)).toBe('Downloading');
    d.waiting = { reason: 'masv', message: 'MASV cannot be reached (server answered 503)', retry_at: 1000 };
    expect(stateLabel(d)).toBe('Waiting');
    d.state = 'paused';
    expect(stateLabel(d)).toBe('Paused');
  });
});

describe('queue order', () => {
  const items = [
    summary('a', { created_at: 1 }),
    summary('b', { created_at: 2, priority: 5 }),
    summary('c', { created_at: 3 }),
    summary('done', { created_at: 0, state: 'complete', completed_at: 9 }),
    summary('paused', { created_at: 4, state: 'paused' }),
  ];
  it('lists unfinished by priority, older first, then the completed', () => {
    expect(queueOrder(items).map((d) => d.id)).toEqual(['b', 'a', 'c', 'paused', 'done']);
  });
  it('moves one up, down, to the top or onto another, never past the ends', () => {
    expect(movedOrder(items, 'c', 'up')).toEqual(['b', 'c', 'a', 'paused']);
    expect(movedOrder(items, 'c', 'top')).toEqual(['c', 'b', 'a', 'paused']);
    expect(movedOrder(items, 'a', 'down')).toEqual(['b', 'c', 'a', 'paused']);
    expect(movedOrder(items, 'b', 'bottom')).toEqual(['a', 'c', 'paused', 'b']);
    expect(movedOrder(items, 'paused', { before: 'a' })).toEqual(['b', 'paused', 'a', 'c']);
    expect(movedOrder(items, 'b', 'up')).toBeNull();
    expect(movedOrder(items, 'paused', 'down')).toBeNull();
    expect(movedOrder(items, 'done', 'up')).toBeNull();
  });
});

describe('changing the files of a download', () => {
  it('chooses what it fetches now, leaves out what it left out, and keeps what arrived', () => {
    const files: FileInfo[] = [
      { ...file(0), state: 'complete' },
      { ...file(1), state: 'transferring' },
      { ...file(2), state: 'excluded' },
      { ...file(3), state: 'virus_withheld', virus_detected: true },
      { ...file(4), state: 'error' },
    ];
    const { listing, chosen, kept } = downloadChoice(summary('a'), files);
    expect(chosen).toEqual(['f1', 'f4']);
    expect(kept).toEqual(['f0']);
    expect(listing.preview.withheld).toBe(1);
    const root = buildTree(listing.files);
    // Only what can change is choosable: not the complete file, not the withheld one.
    expect(root.ids.sort()).toEqual(['f1', 'f2', 'f4']);
    expect(root.folders[0]!.files.find((x) => x.id === 'f0')?.note).toBe('Downloaded — stays');
  });
});

describe('files label', () => {
  it('says how many of the files were chosen when some were left out', () => {
    expect(filesLabel(summary('a', { file_count: 9, files_chosen: 2 }))).toBe('2 of 9 files');
    expect(filesLabel(summary('a', { file_count: 9, files_chosen: 9 }))).toBe('9 files');
    expect(filesLabel(summary('a', { file_count: 1, files_chosen: 1 }))).toBe('1 file');
    expect(filesNote(summary('a', { file_count: 9, files_chosen: 9 }))).toBeNull();
  });

  it('counts what arrives as "Verified" does, and says why the rest does not', () => {
    // 9 listed: 1 withheld, 1 whole-package zip, 1 not chosen; 6 arrive.
    const d = summary('a', { file_count: 9, files_chosen: 8, files_skipped: 1, virus_files: ['invoice.pdf.exe'], files_verified: 6, state: 'complete', hash_algorithm: 'xxh128' });
    expect(filesLabel(d)).toBe('6 of 9 files');
    expect(verifiedLabel(d)).toBe('6 files · xxh128');
    expect(filesNote(d)).toBe('1 withheld for a virus, 1 archive whose files come one by one, 1 not chosen');
  });
});

describe('speed samples', () => {
  it('keeps three minutes of each transferring download and of the total', () => {
    const s = new DownloadsStore();
    s.setAll([summary('a'), summary('b', { state: 'paused' })]);
    s.live['a'] = { rate: 100, eta: null, connections: 1, heldBack: null, checking: null };
    for (let i = 0; i < 200; i++) s.sample();
    expect(s.speeds['a']?.length).toBe(SPEED_SAMPLES);
    expect(s.speeds['b']).toBeUndefined();
    expect(s.totalSpeeds.length).toBe(SPEED_SAMPLES);
    expect(s.totalSpeeds.at(-1)).toBe(100);
  });
});
