// Runs a k6 script the way one k6 VU would, for a fixed number of iterations:
//   node --import ./register.mjs driver.mjs <script.js> <iterations> <result.json>
// then hands handleSummary summary data built from what was sent (metrics and thresholds in
// k6's shapes) and writes what it returns. The result file holds the script's options, every
// request with its response status, the checks and the summary's outputs.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { state } from "./modules/state.mjs";

const [scriptFile, iterationsArg, resultFile] = process.argv.slice(2);
globalThis.__ENV = { ...process.env };
globalThis.__VU = 1;
globalThis.__ITER = 0;

const script = await import(pathToFileURL(path.resolve(scriptFile)).href);
const started = performance.now();
const data = script.setup ? script.setup() : undefined;
for (let i = 0; i < Number(iterationsArg); i++) {
  state.iteration = i;
  globalThis.__ITER = i;
  script.default(data);
}
const elapsedSeconds = (performance.now() - started) / 1000;

function percentile(sorted, p) {
  if (!sorted.length) return 0;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

const durations = state.requests.map((r) => r.durationMs).sort((a, b) => a - b);
const failed = state.requests.filter((r) => !(r.status >= 200 && r.status < 400)).length;
const trend = {
  avg: durations.reduce((a, b) => a + b, 0) / Math.max(1, durations.length),
  min: durations[0] ?? 0,
  med: percentile(durations, 50),
  max: durations.at(-1) ?? 0,
};
const metrics = {
  http_reqs: {
    type: "counter",
    values: { count: state.requests.length, rate: state.requests.length / elapsedSeconds },
  },
  http_req_duration: { type: "trend", values: trend },
  http_req_failed: {
    type: "rate",
    values: {
      rate: failed / Math.max(1, state.requests.length),
      passes: failed,
      fails: state.requests.length - failed,
    },
  },
  dropped_iterations: { type: "counter", values: { count: 0, rate: 0 } },
  checks: {
    type: "rate",
    values: { rate: state.checks.filter((c) => c.ok).length / Math.max(1, state.checks.length) },
  },
};

// k6's threshold expressions: an aggregation (p(N), avg, med, min, max, rate, count), an
// operator and a number.
function evaluate(metric, expression) {
  const match =
    /^\s*(p\(\d+(?:\.\d+)?\)|avg|med|min|max|rate|count)\s*(<=|<|>=|>|==)\s*(\d+(?:\.\d+)?)\s*$/.exec(
      expression,
    );
  if (!match) throw new Error(`k6 stand-in: cannot parse threshold ${expression}`);
  const [, stat, op, limit] = match;
  let value = metric.values[stat];
  if (value === undefined && stat.startsWith("p(")) {
    value = percentile(durations, Number(stat.slice(2, -1)));
    metric.values[stat] = value;
  }
  const n = Number(limit);
  return { "<": value < n, "<=": value <= n, ">": value > n, ">=": value >= n, "==": value === n }[
    op
  ];
}

for (const stat of script.options?.summaryTrendStats ?? [])
  if (stat.startsWith("p(")) trend[stat] = percentile(durations, Number(stat.slice(2, -1)));
let thresholdsFailed = false;
for (const [name, expressions] of Object.entries(script.options?.thresholds ?? {})) {
  const metric = metrics[name];
  if (!metric) throw new Error(`k6 stand-in: a threshold on ${name}, a metric it does not produce`);
  metric.thresholds = {};
  for (const expression of expressions) {
    const ok = evaluate(metric, typeof expression === "string" ? expression : expression.threshold);
    metric.thresholds[expression] = { ok };
    thresholdsFailed ||= !ok;
  }
}

const summary = {
  metrics,
  root_group: { name: "", checks: [] },
  state: { testRunDurationMs: elapsedSeconds * 1000 },
};
const outputs = script.handleSummary ? script.handleSummary(summary) : {};
for (const [target, content] of Object.entries(outputs)) {
  if (target !== "stdout" && target !== "stderr") writeFileSync(target, content);
}
writeFileSync(
  resultFile,
  JSON.stringify(
    {
      options: script.options,
      requests: state.requests,
      checks: state.checks,
      summary: outputs,
      thresholdsFailed,
    },
    null,
    2,
  ),
);
