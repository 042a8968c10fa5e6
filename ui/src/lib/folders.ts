// Files grouped by the folders of their paths in the package: the one tree behind the
// file picker and an expanded package's file list.

export interface Folder<T> {
  path: string;
  name: string;
  /** 0 for a top folder; the root is -1. */
  depth: number;
  folders: Folder<T>[];
  files: T[];
  /** Every file below, at any depth. */
  all: T[];
}

const byName = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The folder tree of `items` (paths with `/`): each level's folders first, then its
 * files, each sorted by name as a person would (2 before 10). */
export function groupByFolder<T>(items: readonly T[], pathOf: (item: T) => string): Folder<T> {
  const make = (path: string, depth: number): Folder<T> => ({ path, name: baseName(path), depth, folders: [], files: [], all: [] });
  const root = make('', -1);
  const folders = new Map<string, Folder<T>>([['', root]]);
  const folderOf = (path: string): Folder<T> => {
    const known = folders.get(path);
    if (known) return known;
    const cut = path.lastIndexOf('/');
    const parent = folderOf(cut < 0 ? '' : path.slice(0, cut));
    const made = make(path, parent.depth + 1);
    parent.folders.push(made);
    folders.set(path, made);
    return made;
  };
  for (const item of items) {
    const path = pathOf(item);
    const cut = path.lastIndexOf('/');
    folderOf(cut < 0 ? '' : path.slice(0, cut)).files.push(item);
  }
  const finish = (n: Folder<T>): void => {
    n.folders.sort((a, b) => byName(a.name, b.name));
    n.files.sort((a, b) => byName(baseName(pathOf(a)), baseName(pathOf(b))));
    for (const child of n.folders) {
      finish(child);
      n.all.push(...child.all);
    }
    n.all.push(...n.files);
  };
  finish(root);
  return root;
}

export type ListRow<T> = { kind: 'folder'; folder: Folder<T>; open: boolean } | { kind: 'file'; file: T; depth: number };

/** The rows of the tree as listed: every folder, and the contents of those not closed. */
export function folderRows<T>(root: Folder<T>, closed: ReadonlySet<string>): ListRow<T>[] {
  const rows: ListRow<T>[] = [];
  const walk = (n: Folder<T>) => {
    for (const child of n.folders) {
      const open = !closed.has(child.path);
      rows.push({ kind: 'folder', folder: child, open });
      if (open) walk(child);
    }
    for (const file of n.files) rows.push({ kind: 'file', file, depth: n.depth + 1 });
  };
  walk(root);
  return rows;
}
