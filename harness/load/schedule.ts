/** The arrival rate over a run: a linear ramp from 0 over `rampMs`, then `rate` until `durationMs`. */
export interface LoadProfile {
  /** Requests per second once the ramp is over. */
  rate: number;
  /** How long the whole run sends, ramp included, in milliseconds. */
  durationMs: number;
  /** The ramp's length in milliseconds (0 for a constant rate from the start). */
  rampMs: number;
}

/**
 * The intended send times (ms from the start) of every request of an open-model run. The
 * schedule is fixed before the first send: a slow service cannot push a request later, and its
 * latency is measured from here (coordinated omission corrected).
 */
export function intendedTimes(profile: LoadProfile): Float64Array {
  const { rate, durationMs } = profile;
  const rampMs = Math.min(profile.rampMs, durationMs);
  const perMs = rate / 1000;
  // Requests due by time t: during the ramp the rate grows linearly, so the count is the area
  // under it, perMs·t²/(2·ramp); after it, the ramp's half plus perMs per ms.
  const rampCount = (perMs * rampMs) / 2;
  const total = Math.floor(rampCount + perMs * (durationMs - rampMs) + 1e-9);
  const times = new Float64Array(total);
  for (let k = 0; k < total; k++) {
    // Request k is due when the count reaches k (the first at 0 on a constant rate).
    times[k] =
      k < rampCount ? Math.sqrt((2 * k * rampMs) / perMs) : rampMs + (k - rampCount) / perMs;
  }
  return times;
}

/** Requests per second intended at `ms` from the start. */
export function rateAt(profile: LoadProfile, ms: number): number {
  if (profile.rampMs > 0 && ms < profile.rampMs) return (profile.rate * ms) / profile.rampMs;
  return profile.rate;
}
