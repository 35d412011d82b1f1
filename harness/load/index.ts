/** Open-model load: arrival schedules, the generator on undici, HdrHistogram latencies, thresholds. */

export { formatProgress, formatResult } from "./format.ts";
export {
  type GeneratorOptions,
  type GeneratorResult,
  generateLoad,
  type LoadOutcome,
  type LoadProgress,
  type LoadRequest,
} from "./generator.ts";
export {
  DURATION_FORMS,
  parseDuration,
  parseRate,
  parseRateSpec,
  parseThreshold,
  RATE_FORMS,
  type RateSpec,
  THRESHOLD_FORMS,
  type Threshold,
} from "./parse.ts";
export { type FaultsChoice, type LoadOptions, type LoadResult, runLoad } from "./run.ts";
export { intendedTimes, type LoadProfile } from "./schedule.ts";
export {
  evaluateThresholds,
  type LatencySummary,
  summarize,
  type ThresholdResult,
} from "./stats.ts";
