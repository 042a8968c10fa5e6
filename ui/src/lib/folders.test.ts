import { describe, expect, it } from 'vitest';
import { folderRows, groupByFolder } from './folders';

const paths = ['Day 10/b.mov', 'Day 2/a.mov', 'Day 2/Audio/take 10.wav', 'Day 2/Audio/take 2.wav', 'readme.txt'];
const rowText = (closed: Set<string>) =>
  folderRows(groupByFolder(paths, (p) => p), closed).map((r) => (r.kind === 'folder' ? `${r.folder.path}/ (${r.folder.all.length})` : `  ${r.file}`));

describe('files grouped by folder', () => {
  it('lists folders first, in a person’s order, each with every file below it', () => {
    expect(rowText(new Set())).toEqual([
      'Day 2/ (3)',
      'Day 2/Audio/ (2)',
      '  Day 2/Audio/take 2.wav',
      '  Day 2/Audio/take 10.wav',
      '  Day 2/a.mov',
      'Day 10/ (1)',
      '  Day 10/b.mov',
      '  readme.txt',
    ]);
  });

  it('hides what is inside a closed folder, and only that', () => {
    expect(rowText(new Set(['Day 2/Audio']))).toEqual(['Day 2/ (3)', 'Day 2/Audio/ (2)', '  Day 2/a.mov', 'Day 10/ (1)', '  Day 10/b.mov', '  readme.txt']);
    expect(rowText(new Set(['Day 2']))).toEqual(['Day 2/ (3)', 'Day 10/ (1)', '  Day 10/b.mov', '  readme.txt']);
  });
});
