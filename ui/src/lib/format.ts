const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;

/** 1536 -> "1.5 KB" (binary multiples, as file managers show them). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '–';
  let v = n;
  let unit = 0;
  while (v >= 1024 && unit < UNITS.length - 1) {
    v /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${Math.round(v)} B`;
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${UNITS[unit]}`;
}

/** A listed package's size: MASV leaves it out of some listings (it arrives as 0), and
 * "0 B" would read as an empty package, so an unknown size shows as "—". */
export function formatListedSize(n: number): string {
  return n > 0 ? formatBytes(n) : '—';
}

/** Bytes in a MB as the app shows them (binary). */
export const MIB = 1048576;

/** A rate typed in MB/s ("2.5", or a number input's value) as bytes per second; empty,
 * zero or not a number is no limit (null). */
export function rateFromMb(typed: string | number): number | null {
  const mb = Number(typed);
  return String(typed).trim() && mb > 0 ? Math.round(mb * MIB) : null;
}

export function formatRate(bytesPerSec: number): string {
  return bytesPerSec > 0 ? `${formatBytes(bytesPerSec)}/s` : '';
}

/** Seconds left -> "42 s", "3 min 05 s", "2 h 04 min". */
export function formatEta(secs: number | null | undefined): string {
  if (secs === null || secs === undefined || !Number.isFinite(secs) || secs < 0) return '';
  const s = Math.round(secs);
  if (s < 60) return `${s} s left`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s left`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min left`;
}

/** Share done, 0..100, never NaN. */
export function percent(done: number, total: number): number {
  if (total <= 0) return done > 0 ? 100 : 0;
  return Math.min(100, Math.max(0, (done / total) * 100));
}
