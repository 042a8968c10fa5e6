import { describe, expect, it } from 'vitest';
import type { DownloadSummary } from './api';
import { ALL, isQueueView, visibleDownloads } from './history';

function d(id: string, over: Partial<DownloadSummary> = {}): DownloadSummary {
  return {
    id, name: `Package ${id}`, package_id: 'p', sender_email: 'dit@set.example', link: '', origin: { kind: 'link' },
    dst_folder: '/tmp', state: 'complete', error: null, total_bytes: 1000, bytes_done: 0, file_count: 2, files_chosen: 2,
    files_complete: 0, files_skipped: 0, virus_files: [], created_at: 1, completed_at: 1, expires_at: null,
    files_verified: 0, hash_algorithm: null, manifest: null, waiting: null, connections: 0, priority: 0, after_error: null, rate_limit: null, ...over,
  };
}

describe('the downloads shown', () => {
  const items = [
    d('a', { name: 'Day 2 rushes', state: 'transferring', created_at: 3, total_bytes: 50 }),
    d('b', { name: 'day 10 selects', sender_email: 'colorist@grade.example', created_at: 1, total_bytes: 2000 }),
    d('c', { name: 'Audio stems', state: 'error', origin: { kind: 'portal', portal_id: 'p1', portal_name: 'Editorial' }, created_at: 2 }),
  ];

  it('searches names and senders, any case, and files the engine found', () => {
    expect(visibleDownloads(items, { ...ALL, query: 'DAY' }).map((x) => x.id).sort()).toEqual(['a', 'b']);
    expect(visibleDownloads(items, { ...ALL, query: 'grade.example' }).map((x) => x.id)).toEqual(['b']);
    expect(visibleDownloads(items, { ...ALL, query: 'take_3.wav' }, new Set(['c'])).map((x) => x.id)).toEqual(['c']);
  });

  it('filters by state and origin and sorts as asked', () => {
    expect(visibleDownloads(items, { ...ALL, show: 'active' }).map((x) => x.id)).toEqual(['a']);
    expect(visibleDownloads(items, { ...ALL, show: 'failed' }).map((x) => x.id)).toEqual(['c']);
    expect(visibleDownloads(items, { ...ALL, from: 'portal' }).map((x) => x.id)).toEqual(['c']);
    expect(visibleDownloads(items, { ...ALL, sort: 'size' }).map((x) => x.id)).toEqual(['b', 'c', 'a']);
    expect(visibleDownloads(items, { ...ALL, sort: 'name' }).map((x) => x.name)).toEqual(['Audio stems', 'Day 2 rushes', 'day 10 selects']);
    expect(visibleDownloads(items, { ...ALL, sort: 'added' }).map((x) => x.id)).toEqual(['a', 'c', 'b']);
  });

  it('is the queue only when nothing narrows or reorders it', () => {
    expect(isQueueView(ALL)).toBe(true);
    expect(isQueueView({ ...ALL, query: ' x ' })).toBe(false);
    expect(isQueueView({ ...ALL, sort: 'name' })).toBe(false);
  });
});
