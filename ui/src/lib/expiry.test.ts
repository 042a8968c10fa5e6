import { describe, expect, it } from 'vitest';
import { expiryText } from './expiry';
import table from './expiry.cases.json';

const now = 1_800_000_000;

describe('expiryText', () => {
  it('reads as the CLI and notifications read it (expiry.cases.json)', () => {
    for (const [left, text, soon] of table.cases as [number, string, boolean][]) {
      expect(expiryText(now + left, now), `${left} s left`).toEqual({ text, soon });
    }
  });

  it('says nothing when MASV gave no time', () => {
    expect(expiryText(null, now)).toBeNull();
  });
});
