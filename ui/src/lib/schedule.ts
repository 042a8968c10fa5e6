// The bandwidth schedule as the header and the Settings dialog show it.
import type { Day } from './bindings/Day';
import type { LimitRule } from './bindings/LimitRule';
import type { Schedule } from './bindings/Schedule';
import type { ScheduleStatus } from './bindings/ScheduleStatus';
import type { Window } from './bindings/Window';
import { formatRate, MIB } from './format';

export type { Day, LimitRule, Schedule, ScheduleStatus, Window };

export const DAYS: readonly { day: Day; short: string; long: string }[] = [
  { day: 'mon', short: 'Mon', long: 'Monday' },
  { day: 'tue', short: 'Tue', long: 'Tuesday' },
  { day: 'wed', short: 'Wed', long: 'Wednesday' },
  { day: 'thu', short: 'Thu', long: 'Thursday' },
  { day: 'fri', short: 'Fri', long: 'Friday' },
  { day: 'sat', short: 'Sat', long: 'Saturday' },
  { day: 'sun', short: 'Sun', long: 'Sunday' },
];

export const WEEKDAYS: Day[] = ['mon', 'tue', 'wed', 'thu', 'fri'];

/** A moment as a person reads it: "18:00" today, "Tue 09:00" within the week. */
export function clockTime(unix: number, nowSecs: number): string {
  const at = new Date(unix * 1000);
  const now = new Date(nowSecs * 1000);
  const hhmm = `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
  if (at.toDateString() === now.toDateString()) return hhmm;
  const day = DAYS[(at.getDay() + 6) % 7];
  return `${day ? day.short : ''} ${hhmm}`;
}

function limitText(limit: number | null): string {
  return limit === null ? 'unlimited' : formatRate(limit);
}

/** The header's line: what is in force and until when; null when nothing limits. */
export function scheduleLabel(s: ScheduleStatus, nowSecs: number): string | null {
  const until = s.changes_at === null ? '' : ` until ${clockTime(s.changes_at, nowSecs)}`;
  const then = s.changes_at === null ? '' : s.next_open ? `, then ${limitText(s.next_limit)}` : ', then paused';
  if (!s.open) return `Outside download hours: paused${until}${s.next_limit === null ? '' : `, then ${formatRate(s.next_limit)}`}`;
  if (s.limit === null) return s.changes_at === null ? null : `Unlimited${until}${then}`;
  return `Limited to ${formatRate(s.limit)}${until}${then}`;
}

/** A download waiting for the schedule's hours: "Waiting for download hours — from Tue 22:00". */
export function scheduleWaitLabel(opensAt: number, nowSecs: number): string {
  return opensAt > 0 ? `Waiting for download hours — from ${clockTime(opensAt, nowSecs)}` : 'Waiting for download hours';
}

export function newLimit(): LimitRule {
  return { days: [...WEEKDAYS], from: '09:00', to: '18:00', bytes_per_sec: 10 * MIB };
}

export function newWindow(): Window {
  return { days: DAYS.map((d) => d.day), from: '22:00', to: '06:00' };
}

/** What is wrong with a window as typed, or null. */
export function windowProblem(w: Window): string | null {
  if (w.days.length === 0) return 'Choose at least one day.';
  if (!/^\d{2}:\d{2}$/.test(w.from) || !/^\d{2}:\d{2}$/.test(w.to)) return 'Give both times as HH:MM.';
  return null;
}
