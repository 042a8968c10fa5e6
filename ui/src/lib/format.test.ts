import { describe, expect, it } from 'vitest';
import { formatBytes, formatEta, formatListedSize, formatRate, percent, rateFromMb } from './format';
import table from './format.cases.json';

describe('format', () => {
  it('reads sizes as the CLI, the tray and notifications do (one table for both)', () => {
    for (const [n, said] of table.cases as Array<[number, string]>) expect(formatBytes(n), `${n} bytes`).toBe(said);
  });

  it('formats sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(256 * 1024 * 1024)).toBe('256 MB');
    expect(formatBytes(3.5 * 1024 ** 4)).toBe('3.5 TB');
    expect(formatBytes(-1)).toBe('–');
  });

  it('shows an unlisted package size as unknown, not as empty', () => {
    expect(formatListedSize(0)).toBe('—');
    expect(formatListedSize(1536)).toBe('1.5 KB');
  });
  it('formats rates and hides zero', () => {
    expect(formatRate(20 * 1024 * 1024)).toBe('20.0 MB/s');
    expect(formatRate(0)).toBe('');
  });
  it('formats time left', () => {
    expect(formatEta(42)).toBe('42 s left');
    expect(formatEta(185)).toBe('3 min 05 s left');
    expect(formatEta(7440)).toBe('2 h 04 min left');
    expect(formatEta(null)).toBe('');
  });
  it('computes a percentage that never overflows', () => {
    expect(percent(50, 200)).toBe(25);
    expect(percent(300, 200)).toBe(100);
    expect(percent(0, 0)).toBe(0);
    expect(percent(5, 0)).toBe(100);
  });
});

describe('rateFromMb', () => {
  it('reads MB/s as bytes per second, and empty or zero as no limit', () => {
    expect(rateFromMb('2')).toBe(2 * 1048576);
    expect(rateFromMb(2.5)).toBe(Math.round(2.5 * 1048576));
    expect(rateFromMb('')).toBeNull();
    expect(rateFromMb('0')).toBeNull();
    expect(rateFromMb('fast')).toBeNull();
  });
});
