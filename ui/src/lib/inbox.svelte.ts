// The inbox's state: the team's packages and portals as last listed, upload progress
// as the watcher reports it, and what was handed to the engine.
import type { DownloadSummary, InboxPackage, InboxPortal, PackageFailure, WatcherEvent } from './api';

export const INBOX_FILTERS = ['all', 'new', 'finalized', 'expired', 'archived'] as const;
export type InboxFilter = (typeof INBOX_FILTERS)[number];
/** How far ahead the expiry filter looks, in days (null: any expiry). */
export const EXPIRY_WINDOWS = [null, 2, 7] as const;
/** How much longer "Keep longer" keeps a package on MASV. */
export const EXTEND_DAYS = 7;

export class InboxStore {
  teamId = $state<string | null>(null);
  packages = $state<InboxPackage[]>([]);
  portals = $state<InboxPortal[]>([]);
  filter = $state<InboxFilter>('all');
  /** Teamspace and tag ids to narrow to ('' : any), and the expiry window. */
  teamspace = $state('');
  tag = $state('');
  expiringWithin = $state<(typeof EXPIRY_WINDOWS)[number]>(null);
  /** Every teamspace and tag seen in a listing, so narrowing does not hide the others. */
  teamspaces = $state<string[]>([]);
  tags = $state<Record<string, string>>({});
  /** Upload progress (0..1) of packages still being sent, by package id. */
  uploads = $state<Record<string, number>>({});
  /** Packages handed to the engine (by hand or by a watched portal): package id → download id. */
  downloading = $state<Record<string, string>>({});
  lastError = $state<string | null>(null);
  /** Watched portals' packages that could not be started, by package id. */
  failures = $state<Record<string, PackageFailure>>({});
  /** Watched portals that could not be listed last time, by portal id. */
  portalErrors = $state<Record<string, string>>({});

  setFailures(list: PackageFailure[]) {
    this.failures = Object.fromEntries(list.map((f) => [f.package_id, f]));
  }

  /** The filters as the listing command takes them. */
  query() {
    return {
      states: this.filter === 'all' ? [] : [this.filter],
      teamspaces: this.teamspace ? [this.teamspace] : [],
      tags: this.tag ? [this.tag] : [],
      expiringWithinDays: this.expiringWithin,
    };
  }

  setPackages(list: InboxPackage[]) {
    this.packages = list;
    for (const p of list) {
      if (p.teamspace_id && !this.teamspaces.includes(p.teamspace_id)) this.teamspaces.push(p.teamspace_id);
      if (p.tag) this.tags[p.tag.id] = p.tag.name;
    }
    for (const p of list) {
      if (!p.uploading && p.id in this.uploads) delete this.uploads[p.id];
    }
  }

  /** Marks the packages the engine already has (from any earlier session). */
  markDownloaded(downloads: DownloadSummary[]) {
    for (const d of downloads) {
      if (d.origin.kind !== 'link') this.downloading[d.package_id] = d.id;
    }
  }

  /** Applies a watcher event; returns true when the listing should be refreshed. */
  apply(e: WatcherEvent): boolean {
    switch (e.type) {
      case 'upload': {
        // Progress only moves forward, whatever order long polls answer in.
        const prev = this.uploads[e.package_id] ?? 0;
        this.uploads[e.package_id] = Math.max(prev, Math.min(1, Math.max(0, e.fraction)));
        return e.fraction >= 1;
      }
      case 'downloading':
        this.downloading[e.package_id] = e.download_id;
        delete this.failures[e.package_id];
        delete this.portalErrors[e.portal_id];
        return true;
      case 'poll_failed':
        this.lastError = e.message;
        return false;
      case 'portal_failed':
        this.portalErrors[e.portal_id] = e.message;
        return false;
      case 'package_failed': {
        const { type: _, ...failure } = e;
        this.failures[e.package_id] = failure;
        return false;
      }
    }
  }

  /** MASV kept the package longer: its new expiry, shown at once. */
  extended(id: string, expiresAt: number) {
    const p = this.packages.find((x) => x.id === id);
    if (p) p.expires_at = expiresAt;
  }

  canDownload(p: InboxPackage): boolean {
    return p.state === 'finalized' && !(p.id in this.downloading);
  }
}
