/**
 * Where templated timestamps start (2026-01-01T00:00:00Z, unix seconds): fixed rather
 * than the wall clock, so that one seed gives the same bytes on any day. Signatures still use
 * the real time, as providers' verifiers demand.
 */
export const STOCK_TEMPLATE_EPOCH = 1_767_225_600;

/** Seconds between two templated events of a scenario: far enough apart to order them plainly. */
export const TEMPLATE_STEP_SECONDS = 60;

// Origins are spread over about 12 days after the epoch, so two seeds seldom share timestamps.
const ORIGIN_SPREAD_SECONDS = 2 ** 20;

/**
 * The templated clock of a run: `created`, `expires_at` and the like are read from it, never
 * from the wall clock, so one seed gives the same bytes on any day. Each event is strictly later
 * than the one before it, because a service that keeps only updates newer than its row
 * (`WHERE last_synced_at < :created`) would otherwise drop every event after the first as stale.
 * Signatures still use the real time: providers' verifiers reject old timestamps.
 */
export interface TemplateClock {
  /** The first event's time, unix seconds: fixed by the seed. */
  origin: number;
  /** The time of the event at `index` (0 for the first), unix seconds. */
  at(index: number): number;
}

export function templateClock(seed: number, stepSeconds = TEMPLATE_STEP_SECONDS): TemplateClock {
  const offset =
    ((Math.trunc(seed) % ORIGIN_SPREAD_SECONDS) + ORIGIN_SPREAD_SECONDS) % ORIGIN_SPREAD_SECONDS;
  const origin = STOCK_TEMPLATE_EPOCH + offset;
  return { origin, at: (index) => origin + index * stepSeconds };
}
