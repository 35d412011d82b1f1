import { BadUsageError } from "../errors.ts";

/**
 * `--rate`, `--duration`, `--ramp` and `--threshold`, read one way for `load` and `k6`: the
 * ramp is the start of the duration, not added to it.
 */
export async function loadProfile(
  values: { rate?: unknown; duration?: unknown; ramp?: unknown; threshold?: unknown },
  defaults: { rate?: string; duration?: string } = {},
) {
  const load = await import("../load/index.ts");
  const rateText = (values.rate as string | undefined) ?? defaults.rate;
  const durationText = (values.duration as string | undefined) ?? defaults.duration;
  const ramp = values.ramp as string | undefined;
  if (rateText === undefined) throw new BadUsageError(`--rate: required, ${load.RATE_FORMS}`);
  if (durationText === undefined)
    throw new BadUsageError(`--duration: required, ${load.DURATION_FORMS}`);
  const rateSpec = load.parseRateSpec(rateText);
  const durationMs = load.parseDuration(durationText);
  const rampMs = ramp === undefined ? 0 : load.parseDuration(ramp, "--ramp", true);
  if (rampMs > durationMs)
    throw new BadUsageError(
      `--ramp: ${ramp} is longer than --duration ${durationText}; the ramp is part of the duration`,
    );
  const thresholds = ((values.threshold as string[] | undefined) ?? []).map((t) =>
    load.parseThreshold(t),
  );
  return { rate: rateSpec.perSecond, rateSpec, durationMs, rampMs, thresholds };
}
