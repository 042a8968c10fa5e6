// The Downloads view's search, filters and sort: which packages show, in what order.
import type { DownloadSummary } from './api';
import { queueOrder } from './downloads.svelte';

export type Show = 'all' | 'active' | 'done' | 'failed';
export type From = 'any' | 'link' | 'team' | 'portal';
export type Sort = 'queue' | 'added' | 'size' | 'name';

export interface View {
  query: string;
  show: Show;
  from: From;
  sort: Sort;
}

export const ALL: View = { query: '', show: 'all', from: 'any', sort: 'queue' };

/** Whether the list is the queue as it runs (so its order can be changed). */
export function isQueueView(v: View): boolean {
  return v.sort === 'queue' && v.show === 'all' && v.from === 'any' && v.query.trim() === '';
}

function shows(d: DownloadSummary, show: Show): boolean {
  switch (show) {
    case 'all':
      return true;
    case 'active':
      return d.state === 'queued' || d.state === 'transferring' || d.state === 'paused';
    case 'done':
      return d.state === 'complete';
    case 'failed':
      return d.state === 'error';
  }
}

/** The packages `v` shows, in its order. `fileHits`: ids of the downloads with a file
 * whose name matches the query (searched by the engine, which has every file). */
export function visibleDownloads(items: DownloadSummary[], v: View, fileHits: ReadonlySet<string> = new Set()): DownloadSummary[] {
  const q = v.query.trim().toLowerCase();
  const kept = items.filter(
    (d) =>
      shows(d, v.show) &&
      (v.from === 'any' || d.origin.kind === v.from) &&
      (!q || d.name.toLowerCase().includes(q) || d.sender_email.toLowerCase().includes(q) || fileHits.has(d.id)),
  );
  switch (v.sort) {
    case 'queue':
      return queueOrder(kept);
    case 'added':
      return kept.sort((a, b) => b.created_at - a.created_at);
    case 'size':
      return kept.sort((a, b) => b.total_bytes - a.total_bytes);
    case 'name':
      return kept.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: 'base' }));
  }
}
