/**
 * The run's one source of randomness. Seeded, so the same seed replays the same ids, payloads
 * and (later) the same probabilistic faults.
 */
export interface Random {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** `length` characters drawn from [0-9A-Za-z], as Stripe ids use. */
  alphanumeric(length: number): string;
}

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** mulberry32: tiny, fast, and good enough for test data (not for secrets). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    alphanumeric(length) {
      let out = "";
      for (let i = 0; i < length; i++) out += ALPHABET[Math.floor(next() * ALPHABET.length)];
      return out;
    },
  };
}

/** A fresh seed for a run that was not given one (printed, so it can be replayed). */
export function newSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
