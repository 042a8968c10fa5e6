// When a package expires (MASV deletes it and its link stops working), said the way a
// person plans by: days while there are days, hours on the last two, minutes at the end.
// The engine's `expires_in` (CLI, notifications) reads the same: expiry.cases.json
// holds both to one table.

/** A package's time left, and whether it is within the last day (shown as a warning). */
export interface ExpiryText {
  text: string;
  soon: boolean;
}

const HOUR = 3600;
const DAY = 24 * HOUR;

/** "expires in 9 days", "expires in 5 h", "expires in 40 min", "expired"; null when MASV
 * gave no time. */
export function expiryText(expiresAt: number | null, nowSecs: number): ExpiryText | null {
  if (expiresAt === null) return null;
  const left = expiresAt - nowSecs;
  if (left <= 0) return { text: 'expired', soon: true };
  const soon = left <= DAY;
  if (left < HOUR) return { text: `expires in ${Math.max(1, Math.floor(left / 60))} min`, soon };
  if (left < 2 * DAY) return { text: `expires in ${Math.floor(left / HOUR)} h`, soon };
  return { text: `expires in ${Math.floor(left / DAY)} days`, soon };
}

/** The moment itself, for a tooltip: "Expires Tue 15 Dec, 14:00". */
export function expiryTitle(expiresAt: number): string {
  const at = new Date(expiresAt * 1000);
  const day = at.toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'short' });
  const time = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return `Expires ${day}, ${time}: MASV deletes the package then and its link stops working`;
}
