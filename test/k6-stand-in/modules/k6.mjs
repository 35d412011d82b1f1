// k6's `check`, `sleep` and `fail`, as k6 documents them.
import { state } from "./state.mjs";

export function check(value, sets) {
  let all = true;
  for (const [name, predicate] of Object.entries(sets)) {
    const ok = Boolean(predicate(value));
    state.checks.push({ name, ok });
    all &&= ok;
  }
  return all;
}

export function sleep(seconds) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}

export function fail(message) {
  throw new Error(message);
}

export default { check, sleep, fail };
