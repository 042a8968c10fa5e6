import { describe, expect, it } from 'vitest';
import { renamedNote, savedPath } from './names';

describe('names as saved', () => {
  it('shows the twin of a file already there as saved, and why', () => {
    const twin = { path: 'Day 1/A001_C002 (1).mov', package_path: 'Day 1/A001_C002.mov' };
    expect(savedPath(twin)).toBe('Day 1/A001_C002 (1).mov');
    expect(renamedNote(twin)).toBe('Sent as “Day 1/A001_C002.mov”: a file of this name was already there');
  });

  it('never shows a `..` folder for a name that tried to leave the folder', () => {
    const escaping = { path: 'notes.txt', package_path: '../../../notes.txt' };
    expect(savedPath(escaping)).toBe('notes.txt');
    expect(renamedNote(escaping)).toBe('Sent as “../../../notes.txt”: renamed to be safe on this computer');
    // Left out, it has no place yet: the sender's path, made safe, stands in.
    expect(savedPath({ path: '', package_path: '../../../notes.txt' })).toBe('notes.txt');
    expect(renamedNote({ path: '', package_path: '../../../notes.txt' })).toBeNull();
  });

  it('says nothing when the name is the sender’s, whatever the separators', () => {
    expect(renamedNote({ path: 'Day 1\\clip.mov', package_path: 'Day 1/clip.mov' })).toBeNull();
    expect(savedPath({ path: 'Day 1\\clip.mov', package_path: 'Day 1/clip.mov' })).toBe('Day 1/clip.mov');
  });
});
