// Time left on a session, counted down in the browser between two polls of the server.

/** `41:22`, `09:05`, or `1:02:03` over an hour; `expired` at zero. */
export function formatRemaining(seconds: number): string {
  if (seconds <= 0) {
    return 'expired';
  }
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${String(m).padStart(2, '0')}:${ss}`;
}

/** Within this many seconds of its end a session is warned. */
export const WARN_SECONDS = 600;

/**
 * Seconds left at `now`. The server's `remaining_seconds` at the poll is counted down with the
 * browser's monotonic clock, so a browser whose wall clock is off still counts right; only
 * without it does `expiration` meet the browser's wall clock.
 */
export function remainingAt(
  row: { expiration: string; remaining_seconds: number | null },
  polledAt: number,
  now: number = performance.now()
): number {
  if (typeof row.remaining_seconds === 'number') {
    return row.remaining_seconds - (now - polledAt) / 1000;
  }
  return (Date.parse(row.expiration) - Date.now()) / 1000;
}
