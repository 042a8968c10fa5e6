// A package's files as a tree of folders, for choosing which to download: folders sum
// their files, and only the rows in view are built, so 10,000 files stay fluid.
import type { DownloadSummary } from './bindings/DownloadSummary';
import type { FileInfo } from './bindings/FileInfo';
import type { ListedFile } from './bindings/ListedFile';
import type { PackageListing } from './bindings/PackageListing';
import { baseName, groupByFolder, type Folder } from './folders';
import { savedPath } from './names';

export interface FolderNode {
  kind: 'folder';
  path: string;
  name: string;
  depth: number;
  folders: FolderNode[];
  files: FileNode[];
  /** Every file below that can be chosen (not withheld or skipped). */
  ids: string[];
  /** Their listed sizes, summed. */
  size: number;
  /** Files below already downloaded (shown ticked, not choosable). */
  done: number;
}

export interface FileNode {
  kind: 'file';
  id: string;
  path: string;
  name: string;
  depth: number;
  size: number | null;
  /** Why it cannot be chosen, if it cannot. */
  note: string | null;
  /** Already downloaded: shown ticked and locked. */
  done: boolean;
}

export type Row = FolderNode | FileNode;

const NOTES: Partial<Record<ListedFile['state'], string>> = {
  virus_withheld: 'Flagged by MASV’s virus scan — not downloaded',
  skipped: 'Zip of the whole package — the files are downloaded instead',
  // Choosing again the files of a download: what arrived stays.
  complete: 'Downloaded — stays',
};

/** A download's files as the picker lists a package's: the files it fetches now are
 * chosen, the ones it left out are not, and the complete ones stay (not choosable). */
export function downloadChoice(summary: DownloadSummary, files: FileInfo[]): { listing: PackageListing; chosen: string[]; kept: string[] } {
  // Where each file is saved (or, left out, the sender's path made safe): the picker
  // shows the folder as it is on disk.
  const listed: ListedFile[] = files.map((f) => ({ id: f.file_id, path: savedPath(f), size: f.size, state: f.state }));
  const withheld = files.filter((f) => f.state === 'virus_withheld').length;
  return {
    listing: {
      preview: { name: summary.name, package_id: summary.package_id, sender_email: summary.sender_email, file_count: files.length,
        total_bytes: files.reduce((n, f) => n + f.size, 0), sizes_complete: true, withheld, expires_at: summary.expires_at },
      files: listed,
    },
    chosen: files.filter((f) => f.state === 'pending' || f.state === 'transferring' || f.state === 'error').map((f) => f.file_id),
    kept: files.filter((f) => f.state === 'complete').map((f) => f.file_id),
  };
}

/** The tree of `files`: folders first, each level sorted by name. */
export function buildTree(files: ListedFile[]): FolderNode {
  const node = (g: Folder<ListedFile>): FolderNode => {
    const n: FolderNode = { kind: 'folder', path: g.path, name: g.name, depth: g.depth, folders: g.folders.map(node), files: [], ids: [], size: 0, done: 0 };
    n.files = g.files.map((f) => ({ kind: 'file', id: f.id, path: f.path, name: baseName(f.path), depth: g.depth + 1, size: f.size, note: NOTES[f.state] ?? null, done: f.state === 'complete' }));
    for (const child of n.folders) {
      n.ids.push(...child.ids);
      n.size += child.size;
      n.done += child.done;
    }
    for (const f of n.files) {
      if (f.done) n.done += 1;
      if (f.note) continue;
      n.ids.push(f.id);
      n.size += f.size ?? 0;
    }
    return n;
  };
  return node(groupByFolder(files, (f) => f.path));
}

/** The rows shown: open folders' contents in order, or with a search, every file whose
 * path contains it (any case), flat. */
export function visibleRows(root: FolderNode, open: ReadonlySet<string>, query: string): Row[] {
  const rows: Row[] = [];
  const q = query.trim().toLowerCase();
  const walk = (n: FolderNode) => {
    for (const child of n.folders) {
      if (q) {
        walk(child);
        continue;
      }
      rows.push(child);
      if (open.has(child.path)) walk(child);
    }
    for (const f of n.files) {
      if (!q || f.path.toLowerCase().includes(q)) rows.push(q ? { ...f, depth: 0 } : f);
    }
  };
  walk(root);
  return rows;
}

/** A folder's box: every file below ticked (chosen, or downloaded already), some, or none. */
export function folderCheck(n: FolderNode, chosen: ReadonlySet<string>): 'all' | 'some' | 'none' {
  let count = n.done;
  for (const id of n.ids) if (chosen.has(id)) count += 1;
  if (count === 0) return 'none';
  return count === n.ids.length + n.done ? 'all' : 'some';
}

/** How many files and bytes are chosen. */
export function chosenTotals(root: FolderNode, sizes: ReadonlyMap<string, number | null>, chosen: ReadonlySet<string>): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const id of root.ids) {
    if (!chosen.has(id)) continue;
    files += 1;
    bytes += sizes.get(id) ?? 0;
  }
  return { files, bytes };
}
