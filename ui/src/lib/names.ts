// A file's name as it is saved, which is not always the sender's: a name already taken
// in the folder gets a ` (1)`, and a name that tried to leave the folder (`../..`) or
// that this system cannot hold is made safe. Lists show where the file is on disk, so
// the clip a person opens from the folder is the one they saw; the sender's name is
// kept as a note.
import type { FileInfo } from './bindings/FileInfo';

type Named = Pick<FileInfo, 'path' | 'package_path'>;

/** Folders of a path with `/` between them, without empty, `.` or `..` parts. */
function tidy(path: string): string {
  return path
    .split(/[\\/]/)
    .filter((part) => part !== '' && part !== '.' && part !== '..')
    .join('/');
}

/** Where the file is (or will be) saved, relative to its download's folder. A file left
 * out has no place yet: the sender's path stands in, with any `..` taken out (it could
 * never be saved there). */
export function savedPath(f: Named): string {
  return tidy(f.path || f.package_path);
}

/** Why the saved name is not the sender's (for a tooltip or a second line), or null
 * when it is the same. */
export function renamedNote(f: Named): string | null {
  if (!f.path) return null;
  const saved = savedPath(f);
  const sent = f.package_path;
  if (saved === sent) return null;
  const twin = saved.replace(/ \(\d+\)(?=(\.[^./]*)?$)/, '');
  const why = twin !== saved && twin === sent ? 'a file of this name was already there' : 'renamed to be safe on this computer';
  return `Sent as “${sent}”: ${why}`;
}
