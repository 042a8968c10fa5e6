import { describe, expect, it } from 'vitest';
import type { DownloadSummary, InboxPackage } from './api';
import { InboxStore } from './inbox.svelte';

function pkg(id: string, over: Partial<InboxPackage> = {}): InboxPackage {
  return { id, name: `pkg ${id}`, state: 'finalized', sender: 's@e', size: 10, total_files: 1, created_at: 1,
    contains_virus: false, portal_id: null, uploading: false, expires_at: null, teamspace_id: null, tag: null, ...over };
}

describe('InboxStore', () => {
  it('keeps upload progress monotonic and asks for a refresh when it ends', () => {
    const s = new InboxStore();
    expect(s.apply({ type: 'upload', package_id: 'p', fraction: 0.4, bytes: 4, total: 10 })).toBe(false);
    expect(s.apply({ type: 'upload', package_id: 'p', fraction: 0.2, bytes: 2, total: 10 })).toBe(false);
    expect(s.uploads.p).toBe(0.4);
    expect(s.apply({ type: 'upload', package_id: 'p', fraction: 1, bytes: 10, total: 10 })).toBe(true);
    expect(s.uploads.p).toBe(1);
    s.setPackages([pkg('p')]);
    expect('p' in s.uploads).toBe(false);
  });

  it('offers Download only for finalized packages not already downloading', () => {
    const s = new InboxStore();
    expect(s.canDownload(pkg('a'))).toBe(true);
    expect(s.canDownload(pkg('b', { state: 'new', uploading: true }))).toBe(false);
    expect(s.canDownload(pkg('c', { state: 'expired' }))).toBe(false);
    expect(s.apply({ type: 'downloading', package_id: 'a', portal_id: 'x', download_id: 'd1' })).toBe(true);
    expect(s.canDownload(pkg('a'))).toBe(false);
  });

  it('knows which listed packages the engine already downloads, whatever the session', () => {
    const s = new InboxStore();
    const base: Omit<DownloadSummary, 'id' | 'package_id' | 'origin'> = { name: 'n', sender_email: '', link: '',
      dst_folder: '/d', state: 'complete', error: null, total_bytes: 1, bytes_done: 1, file_count: 1, files_chosen: 1,
      files_complete: 1, files_skipped: 0, virus_files: [], created_at: 1, completed_at: 2, expires_at: null,
      files_verified: 0, hash_algorithm: null, manifest: null, waiting: null, connections: 0, priority: 0, after_error: null, rate_limit: null };
    s.markDownloaded([
      { ...base, id: 'd1', package_id: 'team-pkg', origin: { kind: 'team', team_id: 't' } },
      { ...base, id: 'd2', package_id: 'link-pkg', origin: { kind: 'link' } },
    ]);
    expect(s.canDownload(pkg('team-pkg'))).toBe(false);
    expect(s.canDownload(pkg('link-pkg'))).toBe(true);
  });

  it('maps the filters to the listing query and records poll failures', () => {
    const s = new InboxStore();
    expect(s.query()).toEqual({ states: [], teamspaces: [], tags: [], expiringWithinDays: null });
    s.filter = 'new';
    s.tag = 't1';
    s.expiringWithin = 2;
    expect(s.query()).toEqual({ states: ['new'], teamspaces: [], tags: ['t1'], expiringWithinDays: 2 });
    s.apply({ type: 'poll_failed', message: 'MASV refused the API key' });
    expect(s.lastError).toContain('API key');
  });
});

describe('InboxStore teamspaces, tags and expiry', () => {
  it('remembers every teamspace and tag seen, so narrowing keeps the others offered', () => {
    const s = new InboxStore();
    s.setPackages([pkg('a', { teamspace_id: 'ts1', tag: { id: 't1', name: 'Finals' } }), pkg('b', { teamspace_id: 'ts2' })]);
    s.setPackages([pkg('a', { teamspace_id: 'ts1', tag: { id: 't1', name: 'Finals' } })]);
    expect(s.teamspaces).toEqual(['ts1', 'ts2']);
    expect(s.tags).toEqual({ t1: 'Finals' });
    s.extended('a', 1234);
    expect(s.packages[0]?.expires_at).toBe(1234);
  });
});

describe('InboxStore failures', () => {
  const failure = { package_id: 'p1', portal_id: 'edit', package_name: 'Rushes', attempts: 1, retry_at: 100,
    reason: 'MASV listed package p1 without an access token' };

  it('keeps a package that could not be started until it downloads', () => {
    const s = new InboxStore();
    expect(s.apply({ type: 'package_failed', ...failure })).toBe(false);
    expect(s.failures.p1?.reason).toContain('access token');
    expect(s.failures.p1).not.toHaveProperty('type');
    s.apply({ type: 'downloading', package_id: 'p1', portal_id: 'edit', download_id: 'd1' });
    expect('p1' in s.failures).toBe(false);
  });

  it('remembers which portal could not be listed, apart from the others', () => {
    const s = new InboxStore();
    s.apply({ type: 'portal_failed', portal_id: 'gone', portal_name: 'Old', message: 'portal not found' });
    expect(s.portalErrors).toEqual({ gone: 'portal not found' });
    s.setFailures([failure]);
    expect(Object.keys(s.failures)).toEqual(['p1']);
  });
});
