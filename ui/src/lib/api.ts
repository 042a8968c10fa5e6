// Typed wrappers over the shell's commands and events. Types come from Rust (ts-rs).
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { Again } from './bindings/Again';
import type { CloseAsked } from './bindings/CloseAsked';
import type { CommandError } from './bindings/CommandError';
import type { DownloadDetail } from './bindings/DownloadDetail';
import type { DownloadSummary } from './bindings/DownloadSummary';
import type { Event as EngineEvent } from './bindings/Event';
import type { IncomingLink } from './bindings/IncomingLink';
import type { LinkOrigin } from './bindings/LinkOrigin';
import type { InboxPackage } from './bindings/InboxPackage';
import type { InboxPortal } from './bindings/InboxPortal';
import type { InboxStatus } from './bindings/InboxStatus';
import type { PackageFailure } from './bindings/PackageFailure';
import type { PackageListing } from './bindings/PackageListing';
import type { PackagePreview } from './bindings/PackagePreview';
import type { Schedule } from './bindings/Schedule';
import type { ScheduleView } from './bindings/ScheduleView';
import type { Settings } from './bindings/Settings';
import type { VerifySummary } from './bindings/VerifySummary';
import type { WaitingLinkView } from './bindings/WaitingLinkView';
import type { WatcherEvent } from './bindings/WatcherEvent';

export type {
  Again,
  CommandError,
  DownloadDetail,
  DownloadSummary,
  EngineEvent,
  IncomingLink,
  LinkOrigin,
  InboxPackage,
  InboxPortal,
  InboxStatus,
  PackageFailure,
  PackageListing,
  PackagePreview,
  ScheduleView,
  Settings,
  VerifySummary,
  WaitingLinkView,
  WatcherEvent,
};

export const api = {
  /** `fileIds`: only these files (from `listPackage`); null is every file. */
  addLink: (url: string, destinationFolder: string | null, password: string | null, fileIds: string[] | null = null, again: Again | null = null) =>
    invoke<string>('add_link', { url, destinationFolder, password, fileIds, again }),
  /** A completed package checked again in its folder; the new download's id. */
  repair: (id: string) => invoke<string>('repair_download', { id }),
  /** The window closed with downloads running and no tray: they go on out of sight. */
  keepInBackground: () => invoke<void>('keep_in_background'),
  /** Quits; the downloads go on at the next start. */
  quitApp: () => invoke<void>('quit_app'),
  /** A package's files, read without adding it ("Choose files…"). */
  listPackage: (url: string, password: string | null) => invoke<PackageListing>('list_package', { url, password }),
  addParkedLink: (token: number, destinationFolder: string | null, password: string) =>
    invoke<string>('add_parked_link', { token, destinationFolder, password }),
  /** Starts a link from outside that the person accepted; `trustSender` skips the question for its sender from now on. */
  confirmParkedLink: (token: number, destinationFolder: string | null, trustSender: boolean) =>
    invoke<string>('confirm_parked_link', { token, destinationFolder, trustSender }),
  dropParkedLink: (token: number) => invoke<void>('drop_parked_link', { token }),
  startDemo: (destinationFolder: string | null) => invoke<string>('start_demo', { destinationFolder }),
  list: () => invoke<DownloadSummary[]>('list_downloads'),
  details: (id: string) => invoke<DownloadDetail>('download_details', { id }),
  /** Ids of the downloads with a file whose path contains `query` (any case). */
  searchFiles: (query: string) => invoke<string[]>('search_files', { query }),
  /** Ranks the queue in this order (first starts first). */
  reorderDownloads: (ids: string[]) => invoke<void>('reorder_downloads', { ids }),
  /** One download's own speed limit; null for none. */
  setDownloadLimit: (id: string, bytesPerSec: number | null) => invoke<void>('set_download_limit', { id, bytesPerSec }),
  /** The files a download fetches from now on (complete ones stay); its files after. */
  chooseFiles: (id: string, fileIds: string[]) => invoke<DownloadDetail>('choose_files', { id, fileIds }),
  pause: (id: string) => invoke<void>('pause', { id }),
  resume: (id: string) => invoke<void>('resume', { id }),
  retry: (id: string) => invoke<void>('retry', { id }),
  remove: (id: string, removeFiles: boolean) => invoke<void>('delete_download', { id, removeFiles }),
  openFolder: (id: string) => invoke<void>('open_folder', { id }),
  /** A complete file, opened with its default application or shown in its folder. */
  openFile: (id: string, index: number) => invoke<void>('open_file', { id, index }),
  showFile: (id: string, index: number) => invoke<void>('show_file', { id, index }),
  verifyAgain: (id: string) => invoke<VerifySummary>('verify_again', { id }),
  getSettings: () => invoke<Settings>('get_settings'),
  /** Why clipboard capture cannot work on this desktop; `null` when it can. */
  clipboardCaptureStatus: () => invoke<string | null>('clipboard_capture_status'),
  setSettings: (settings: Settings) => invoke<Settings>('set_settings', { settings }),
  uiReady: () => invoke<void>('ui_ready'),
  /** The bandwidth schedule and what it has in force now. */
  bandwidthSchedule: () => invoke<ScheduleView>('bandwidth_schedule'),
  setBandwidthSchedule: (schedule: Schedule) => invoke<ScheduleView>('set_bandwidth_schedule', { schedule }),
  /** `require`: make a new agent API token (returned once) or drop the requirement. */
  agentToken: (require: boolean) => invoke<string | null>('agent_token', { require }),
  /** Links kept while MASV cannot be reached. */
  waitingLinks: () => invoke<WaitingLinkView[]>('waiting_links'),
  dropWaitingLink: (token: number) => invoke<void>('drop_waiting_link', { token }),
  retryWaitingLinks: () => invoke<void>('retry_waiting_links'),
  inboxStatus: () => invoke<InboxStatus>('inbox_status'),
  inboxLogin: (teamId: string, apiKey: string) => invoke<InboxStatus>('inbox_login', { teamId, apiKey }),
  inboxLogout: () => invoke<void>('inbox_logout'),
  inboxPackages: (f: { states: string[]; teamspaces: string[]; tags: string[]; expiringWithinDays: number | null }) =>
    invoke<InboxPackage[]>('inbox_packages', f),
  /** Keeps a package on MASV `days` longer; answers its new expiry (Unix seconds). */
  inboxExtend: (packageId: string, days: number) => invoke<number>('inbox_extend', { packageId, days }),
  inboxPortals: () => invoke<InboxPortal[]>('inbox_portals'),
  inboxDownload: (packageId: string, destinationFolder: string | null) =>
    invoke<string>('inbox_download', { packageId, destinationFolder }),
  /** `since`: Unix seconds from which packages count as new (null keeps the portal's). */
  inboxWatch: (portalId: string, portalName: string, enabled: boolean, folder: string | null, since: number | null = null) =>
    invoke<void>('inbox_watch', { portalId, portalName, enabled, folder, since }),
  inboxFailures: () => invoke<PackageFailure[]>('inbox_failures'),
};

export function onInboxEvent(cb: (e: WatcherEvent) => void): Promise<UnlistenFn> {
  return listen<WatcherEvent>('inbox', (e) => cb(e.payload));
}

export function onEngineEvent(cb: (e: EngineEvent) => void): Promise<UnlistenFn> {
  return listen<EngineEvent>('engine', (e) => cb(e.payload));
}

export function onResync(cb: () => void): Promise<UnlistenFn> {
  return listen('engine-resync', () => cb());
}

export function onWaitingLinks(cb: (links: WaitingLinkView[]) => void): Promise<UnlistenFn> {
  return listen<WaitingLinkView[]>('waiting-links', (e) => cb(e.payload));
}

/** The window was closed while downloads run, on a desktop with no tray to come back from. */
export function onCloseAsked(cb: (e: CloseAsked) => void): Promise<UnlistenFn> {
  return listen<CloseAsked>('close-asked', (e) => cb(e.payload));
}

export function onIncomingLink(cb: (e: IncomingLink) => void): Promise<UnlistenFn> {
  return listen<IncomingLink>('incoming-link', (e) => cb(e.payload));
}

/** Commands reject with a CommandError; anything else becomes one. */
export function asCommandError(e: unknown): CommandError {
  if (typeof e === 'object' && e !== null && 'code' in e && 'message' in e) {
    const { code, message, download_id } = e as { code: unknown; message: unknown; download_id?: unknown };
    return typeof download_id === 'string'
      ? { code: String(code), message: String(message), download_id }
      : { code: String(code), message: String(message) };
  }
  return { code: 'internal', message: e instanceof Error ? e.message : String(e) };
}
