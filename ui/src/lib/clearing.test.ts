import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Clearing, UNDO_MS } from './clearing.svelte';

describe('clearing completed packages', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('hides at once and forgets only when the time for Undo is up', () => {
    const c = new Clearing();
    const forgot: string[][] = [];
    c.start(['a', 'b'], (ids) => forgot.push(ids));
    expect(c.hides('a')).toBe(true);
    vi.advanceTimersByTime(UNDO_MS - 1);
    expect(forgot).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(forgot).toEqual([['a', 'b']]);
    expect(c.hides('a')).toBe(false);
  });

  it('forgets nothing after Undo', () => {
    const c = new Clearing();
    const forgot: string[][] = [];
    c.start(['a'], (ids) => forgot.push(ids));
    c.undo();
    vi.advanceTimersByTime(UNDO_MS * 2);
    expect(forgot).toEqual([]);
    expect(c.hides('a')).toBe(false);
  });

  it('forgets a pending clearing before starting another', () => {
    const c = new Clearing();
    const forgot: string[][] = [];
    c.start(['a'], (ids) => forgot.push(ids));
    c.start(['b'], (ids) => forgot.push(ids));
    expect(forgot).toEqual([['a']]);
    vi.advanceTimersByTime(UNDO_MS);
    expect(forgot).toEqual([['a'], ['b']]);
  });
});
