import { describe, expect, it } from 'vitest';
import type { ListedFile } from './bindings/ListedFile';
import { buildTree, chosenTotals, folderCheck, visibleRows, type FolderNode } from './filetree';

const f = (id: string, path: string, size: number | null, state: ListedFile['state'] = 'pending'): ListedFile => ({ id, path, size, state });
const files = [
  f('a', 'Day 1/A001.mov', 300),
  f('w', 'Day 1/audio/A001.wav', 200),
  f('b', 'Day 2/B001.mov', 100),
  f('v', 'Day 2/invoice.pdf.exe', 50, 'virus_withheld'),
  f('r', 'Read me.txt', null),
];

describe('file tree', () => {
  it('sums each folder over the files that can be chosen', () => {
    const root = buildTree(files);
    expect(root.ids.sort()).toEqual(['a', 'b', 'r', 'w']);
    expect(root.size).toBe(600);
    const day1 = root.folders[0]!;
    expect(day1.name).toBe('Day 1');
    expect(day1.size).toBe(500);
    expect(day1.folders[0]!.path).toBe('Day 1/audio');
    expect(root.folders[1]!.files.find((x) => x.id === 'v')?.note).toMatch(/virus/);
  });

  it('shows open folders only, and a search flat', () => {
    const root = buildTree(files);
    const names = (rows: ReturnType<typeof visibleRows>) => rows.map((r) => r.name);
    expect(names(visibleRows(root, new Set(), ''))).toEqual(['Day 1', 'Day 2', 'Read me.txt']);
    expect(names(visibleRows(root, new Set(['Day 1']), ''))).toEqual(['Day 1', 'audio', 'A001.mov', 'Day 2', 'Read me.txt']);
    const found = visibleRows(root, new Set(), 'a001');
    expect(found.map((r) => r.path)).toEqual(['Day 1/audio/A001.wav', 'Day 1/A001.mov']);
    expect(found.every((r) => r.depth === 0)).toBe(true);
  });

  it('ticks a folder fully, partly or not, and totals what is chosen', () => {
    const root = buildTree(files);
    const day1 = root.folders[0]!;
    const sizes = new Map(files.map((x) => [x.id, x.size]));
    expect(folderCheck(day1, new Set(['a', 'w']))).toBe('all');
    expect(folderCheck(day1, new Set(['a']))).toBe('some');
    expect(folderCheck(day1, new Set(['b']))).toBe('none');
    expect(chosenTotals(root, sizes, new Set(['a', 'r', 'v']))).toEqual({ files: 2, bytes: 300 });
  });

  it('shows downloaded files ticked and locked, and a folder of them ticked', () => {
    const root = buildTree([f('a', 'Day 1/A001.mov', 300, 'complete'), f('b', 'Day 1/A002.mov', 100), f('c', 'Day 2/C001.mov', 50, 'complete')]);
    const [day1, day2] = root.folders as [FolderNode, FolderNode];
    expect(day1.files.find((x) => x.id === 'a')).toMatchObject({ done: true, note: 'Downloaded — stays' });
    expect(day1.files.find((x) => x.id === 'b')?.done).toBe(false);
    // Downloaded files count as ticked: the folder is ticked in part, then in full.
    expect(folderCheck(day1, new Set())).toBe('some');
    expect(folderCheck(day1, new Set(['b']))).toBe('all');
    // Everything in it downloaded: ticked (and nothing left to untick).
    expect(day2.ids).toEqual([]);
    expect(folderCheck(day2, new Set())).toBe('all');
  });

  it('groups 10,000 files into their folders', () => {
    const many = Array.from({ length: 10000 }, (_, i) => f(`f${i}`, `reel-${Math.floor(i / 100)}/frame-${i}.dpx`, 4096));
    const root = buildTree(many);
    expect(root.ids.length).toBe(10000);
    expect(root.size).toBe(10000 * 4096);
    expect(visibleRows(root, new Set(), '').length).toBe(100);
    expect(visibleRows(root, new Set(['reel-7']), '').length).toBe(200);
  });
});
