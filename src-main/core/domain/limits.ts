/** Requests-per-minute windows per key, in memory (limits reset when the server restarts). */
export class RequestRateLimiter {
  private readonly windows = new Map<number, number[]>();

  /**
   * Counts a request for `keyId` when it is within `perMinute`; otherwise returns
   * the seconds until the oldest request in the window leaves it.
   */
  take(keyId: number, perMinute: number, now = Date.now()): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const window = (this.windows.get(keyId) ?? []).filter((t) => t > now - 60_000);
    if (window.length >= perMinute) {
      this.windows.set(keyId, window);
      const oldest = window[0] ?? now;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((oldest + 60_000 - now) / 1000)) };
    }
    window.push(now);
    this.windows.set(keyId, window);
    return { allowed: true };
  }
}

/** Seconds until the next UTC midnight, when per-day token limits reset. */
export function secondsUntilUtcMidnight(now = Date.now()): number {
  const next = new Date(now);
  next.setUTCHours(24, 0, 0, 0);
  return Math.max(1, Math.ceil((next.getTime() - now) / 1000));
}
