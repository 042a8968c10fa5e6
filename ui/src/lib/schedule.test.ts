import { describe, expect, it } from 'vitest';
import { clockTime, scheduleLabel, scheduleWaitLabel, windowProblem, type ScheduleStatus } from './schedule';

// Local noon, Monday 2026-11-23.
const noon = new Date(2026, 10, 23, 12, 0, 0).getTime() / 1000;
const at = (day: number, h: number, m = 0) => new Date(2026, 10, day, h, m, 0).getTime() / 1000;
const status = (over: Partial<ScheduleStatus>): ScheduleStatus => ({
  open: true, limit: null, scheduled_limit: false, changes_at: null, next_open: true, next_limit: null, ...over,
});

describe('schedule labels', () => {
  it('says nothing when nothing limits and nothing changes', () => {
    expect(scheduleLabel(status({}), noon)).toBeNull();
  });
  it('names the limit, when it ends and what follows', () => {
    expect(scheduleLabel(status({ limit: 10485760, scheduled_limit: true, changes_at: at(23, 18) }), noon))
      .toBe('Limited to 10.0 MB/s until 18:00, then unlimited');
    expect(scheduleLabel(status({ changes_at: at(24, 9), next_limit: 1048576 }), noon))
      .toBe('Unlimited until Tue 09:00, then 1.0 MB/s');
    expect(scheduleLabel(status({ limit: 1048576 }), noon)).toBe('Limited to 1.0 MB/s');
  });
  it('says when downloads are paused by the hours and until when', () => {
    expect(scheduleLabel(status({ open: false, changes_at: at(23, 22) }), noon)).toBe('Outside download hours: paused until 22:00');
    expect(scheduleLabel(status({ changes_at: at(23, 13), next_open: false }), noon)).toBe('Unlimited until 13:00, then paused');
    expect(scheduleWaitLabel(at(24, 22), noon)).toBe('Waiting for download hours — from Tue 22:00');
  });
  it('reads times within the week', () => {
    expect(clockTime(at(23, 18, 5), noon)).toBe('18:05');
    expect(clockTime(at(29, 0, 0), noon)).toBe('Sun 00:00');
  });
  it('finds what is wrong with a window', () => {
    expect(windowProblem({ days: [], from: '09:00', to: '18:00' })).toMatch(/at least one day/);
    expect(windowProblem({ days: ['mon'], from: '', to: '18:00' })).toMatch(/HH:MM/);
    expect(windowProblem({ days: ['mon'], from: '09:00', to: '18:00' })).toBeNull();
  });
});
