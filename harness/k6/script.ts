import type { ArrivalRate, K6Threshold } from "./flags.ts";
import type { PlannedStep } from "./plan.ts";

/** What the k6 script is made from: the steps to cycle through and the load's shape. */
export interface K6ScriptOptions {
  /** The scenario file, for the header comment. */
  source: string;
  /** The command that wrote the script, for the header comment. */
  command: string;
  steps: PlannedStep[];
  rate: ArrivalRate;
  /** The whole run, the ramp included, in ms. */
  durationMs: number;
  rampMs?: number;
  thresholds: K6Threshold[];
  /** The RUN_ID used when the environment gives none: ids stay unique within a run. */
  defaultRunId: string;
}

// Signing as each provider signs, in k6's JavaScript (mirrors harness/webhooks/*-provider.ts).
const SIGNERS: Record<string, string> = {
  stripe: `  // Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">.
  stripe(payload, secret, timestamp) {
    const v1 = crypto.hmac("sha256", secret, \`\${timestamp}.\${payload}\`, "hex");
    return { "stripe-signature": \`t=\${timestamp},v1=\${v1}\` };
  },`,
  standard: `  // Standard Webhooks: the whsec_ secret is base64 of the key; v1,<base64 HMAC of "<id>.<t>.<body>">.
  standard(payload, secret, timestamp) {
    // The payload's own id, else one derived from its bytes (msg_ and 27 base62 characters).
    const own = JSON.parse(payload).id;
    const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const digest = new Uint8Array(/** @type {ArrayBuffer} */ (crypto.sha256(payload, "binary")));
    const id =
      typeof own === "string" && own
        ? own
        : \`msg_\${Array.from(digest.subarray(0, 27), (b) => base62[b % 62]).join("")}\`;
    const key = encoding.b64decode(secret.replace(/^whsec_/, ""), "std");
    const signature = crypto.hmac("sha256", key, \`\${id}.\${timestamp}.\${payload}\`, "base64");
    return {
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": \`v1,\${signature}\`,
      "user-agent": "faultline (Standard Webhooks)",
    };
  },`,
  github: `  // GitHub: hex HMACs of the body (SHA-256 and the legacy SHA-1), the event name, and the
  // delivery id as faultline derives it: a name-based UUID (v5) of the body.
  github(payload, secret, _timestamp, step) {
    const hasher = crypto.createHash("sha1");
    // DELIVERY_NAMESPACE of harness/webhooks/github-provider.ts, base64.
    hasher.update(encoding.b64decode("bxwuCps9TF6PehssPU5fYA==", "std"));
    hasher.update(payload);
    const h = String(hasher.digest("hex"));
    const variant = (8 | (parseInt(h[16], 16) & 3)).toString(16);
    return {
      "x-hub-signature-256": \`sha256=\${crypto.hmac("sha256", secret, payload, "hex")}\`,
      "x-hub-signature": \`sha1=\${crypto.hmac("sha1", secret, payload, "hex")}\`,
      "x-github-event": step.fixture.split(".")[0],
      "x-github-delivery": \`\${h.slice(0, 8)}-\${h.slice(8, 12)}-5\${h.slice(13, 16)}-\${variant}\${h.slice(17, 20)}-\${h.slice(20, 32)}\`,
      "user-agent": "GitHub-Hookshot/faultline",
    };
  },`,
  lemonsqueezy: `  // Lemon Squeezy: X-Signature, the hex HMAC-SHA256 of the body; X-Event-Name from meta.
  lemonsqueezy(payload, secret) {
    return {
      "x-signature": crypto.hmac("sha256", secret, payload, "hex"),
      "x-event-name": String(JSON.parse(payload).meta.event_name),
      "user-agent": "faultline (Lemon Squeezy)",
    };
  },`,
};

/** A k6 duration string: `1m30s`, `45s`, `500ms`. */
export function k6Duration(ms: number): string {
  if (ms % 1000) return `${ms}ms`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = (ms % 60_000) / 1000;
  return `${minutes ? `${minutes}m` : ""}${seconds || !minutes ? `${seconds}s` : ""}`;
}

/** k6's `options`: the arrival-rate scenario and the thresholds, as plain data. */
export function k6Options(options: K6ScriptOptions): Record<string, unknown> {
  const { rate, durationMs } = options;
  const rampMs = options.rampMs ?? 0;
  const perSecond = rate.count / rate.perSeconds;
  // Enough VUs for ~100 ms responses up front; up to 2 s responses before k6 drops iterations.
  const preAllocatedVUs = Math.max(10, Math.ceil(perSecond * 0.1));
  const maxVUs = Math.max(50, Math.ceil(perSecond * 2));
  const timeUnit = rate.perSeconds === 1 ? "1s" : "1m";
  // As in `faultline load`, the ramp is the start of --duration, not added to it.
  const executor = rampMs
    ? {
        executor: "ramping-arrival-rate",
        startRate: 0,
        timeUnit,
        preAllocatedVUs,
        maxVUs,
        stages: [
          { duration: k6Duration(rampMs), target: rate.count },
          ...(durationMs > rampMs
            ? [{ duration: k6Duration(durationMs - rampMs), target: rate.count }]
            : []),
        ],
      }
    : {
        executor: "constant-arrival-rate",
        rate: rate.count,
        timeUnit,
        duration: k6Duration(durationMs),
        preAllocatedVUs,
        maxVUs,
      };
  const thresholds: Record<string, string[]> = {};
  for (const t of options.thresholds)
    thresholds[t.metric] = [...(thresholds[t.metric] ?? []), t.expression];
  // A run that could not keep the rate fails, as `faultline load` does: more than 1% of the
  // planned iterations dropped (k6 drops them when every VU is busy).
  const planned = (perSecond * (durationMs - rampMs / 2)) / 1000;
  thresholds.dropped_iterations = [`count<${Math.max(1, Math.ceil(planned * 0.01))}`];
  return {
    scenarios: { webhooks: executor },
    thresholds,
    summaryTrendStats: ["avg", "min", "med", "p(90)", "p(99)", "p(99.9)", "max"],
  };
}

/** The k6 script: runs as is with `k6 run` and on the k6 operator (`TestRun` with parallelism). */
export function k6Script(options: K6ScriptOptions): string {
  const providers = [...new Set(options.steps.map((s) => s.provider))];
  // Each fixture's template once; steps name theirs by provider/fixture.
  const templates: Record<string, unknown> = {};
  const steps = options.steps.map(
    ({ name, provider, fixture, path, template, variables, resends }) => {
      if (resends !== undefined) return { name, provider, fixture, path, resends };
      templates[`${provider}/${fixture}`] = template;
      return { name, provider, fixture, path, template: `${provider}/${fixture}`, variables };
    },
  );
  return `// Generated by faultline from ${options.source}:
//   ${options.command}
// Run it: K6_TARGET=http://127.0.0.1:3000 WEBHOOK_SECRET=whsec_… k6 run load.js
// Each iteration sends one webhook; the scenario's webhooks are sent in turn, and every cycle
// through them gets its own ids and emails (exec.scenario.iterationInTest is unique across
// k6 instances, so parallel runs on the k6 operator never send the same event twice).
// Environment: K6_TARGET (the service's base URL), WEBHOOK_SECRET (its signing secret),
// RUN_ID (letters and digits that make this run's ids differ from an earlier run's),
// SUMMARY_JSON (where handleSummary writes k6's summary data; default summary.json).
import { check } from "k6";
import crypto from "k6/crypto";
import encoding from "k6/encoding";
import exec from "k6/execution";
import http from "k6/http";

const TARGET = (__ENV.K6_TARGET || "http://127.0.0.1:3000").replace(/\\/$/, "");
const SECRET = __ENV.WEBHOOK_SECRET || "";
const RUN_ID = (__ENV.RUN_ID || ${JSON.stringify(options.defaultRunId)}).replace(/[^A-Za-z0-9]/g, "");

/** @type {import("k6/options").Options} */
export const options = ${JSON.stringify(k6Options(options), null, 2)};

/**
 * @typedef {string | number | boolean | null} Value
 * @typedef {{ keep?: Value, uniqueId?: string, uniqueEmail?: { local: string, domain: string } }} Variable
 * @typedef {{ name: string, provider: string, fixture: string, path: string, template?: string,
 *   variables?: Record<string, Variable>, resends?: number }} Step
 */

/** @type {Step[]} */
const STEPS = ${JSON.stringify(steps, null, 2)};

/** The fixtures' templates, by provider/fixture. @type {Record<string, unknown>} */
const TEMPLATES = ${JSON.stringify(templates, null, 2)};

/** @type {Record<string, (payload: string, secret: string, timestamp: number, step: Step) => Record<string, string>>} */
const SIGN = {
${providers.map((p) => SIGNERS[p]).join("\n")}
};

/**
 * This cycle's value of a variable. The suffix has the same length for every value of a run,
 * so different scenario values never collide after it is appended.
 * @param {Variable} variable
 * @param {string} suffix
 * @returns {Value}
 */
function valueOf(variable, suffix) {
  if (variable.uniqueId !== undefined) return \`\${variable.uniqueId}_\${suffix}\`;
  if (variable.uniqueEmail !== undefined)
    return \`\${variable.uniqueEmail.local}+\${suffix}@\${variable.uniqueEmail.domain}\`;
  return variable.keep === undefined ? null : variable.keep;
}

/**
 * Fill a template as faultline does: a string that is exactly {{name}} becomes the typed
 * value, {{name}} inside other text is interpolated.
 * @param {unknown} template
 * @param {Record<string, Value>} values
 * @returns {unknown}
 */
function fill(template, values) {
  if (typeof template === "string") {
    const whole = /^\\{\\{([a-z_][a-z0-9_]*)\\}\\}$/.exec(template);
    if (whole) return values[whole[1]];
    return template.replace(/\\{\\{([a-z_][a-z0-9_]*)\\}\\}/g, (_, name) => String(values[name]));
  }
  if (Array.isArray(template)) return template.map((item) => fill(item, values));
  if (template && typeof template === "object") {
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const [key, item] of Object.entries(template)) out[key] = fill(item, values);
    return out;
  }
  return template;
}

/**
 * The bytes of a step in a cycle (pretty-printed, as faultline and Stripe send them).
 * @param {Step} step
 * @param {number} cycle
 */
function render(step, cycle) {
  const suffix = \`\${RUN_ID}\${cycle.toString(36).padStart(7, "0")}\`;
  /** @type {Record<string, Value>} */
  const values = {};
  for (const [name, variable] of Object.entries(step.variables || {}))
    values[name] = valueOf(variable, suffix);
  return JSON.stringify(fill(TEMPLATES[step.template || ""], values), null, 2);
}

// Checked in setup, not in the init context: the k6 operator's initializer reads the script's
// options without the runners' environment.
export function setup() {
  if (!SECRET) exec.test.abort("WEBHOOK_SECRET is not set: the service's webhook signing secret");
}

export default function () {
  const iteration = exec.scenario.iterationInTest;
  const cycle = Math.floor(iteration / STEPS.length);
  const step = STEPS[iteration % STEPS.length];
  // A redelivery sends the bytes its original sent in the same cycle, signed afresh.
  const source = step.resends === undefined ? step : STEPS[step.resends];
  const payload = render(source, cycle);
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    "content-type": "application/json",
    ...SIGN[source.provider](payload, SECRET, timestamp, source),
  };
  const response = http.post(\`\${TARGET}\${source.path}\`, payload, {
    headers,
    tags: { name: step.name },
  });
  check(response, { "status is 2xx": (r) => r.status >= 200 && r.status < 300 });
}

/**
 * @param {number | undefined} ms
 */
function milliseconds(ms) {
  return ms === undefined ? "-" : \`\${ms.toFixed(1)}ms\`;
}

/**
 * A short summary on stdout (no remote jslib import, so the operator's pods need no network
 * beyond the target) and k6's full summary data as JSON.
 * @param {any} data
 */
export function handleSummary(data) {
  const metrics = data.metrics;
  const duration = (metrics.http_req_duration && metrics.http_req_duration.values) || {};
  const requests = (metrics.http_reqs && metrics.http_reqs.values) || { count: 0, rate: 0 };
  const failed = (metrics.http_req_failed && metrics.http_req_failed.values) || { rate: 0 };
  const dropped = (metrics.dropped_iterations && metrics.dropped_iterations.values) || { count: 0 };
  const lines = [
    \`faultline k6: \${requests.count} webhooks, \${requests.rate.toFixed(1)}/s achieved, \${dropped.count} dropped\`,
    \`  latency p50 \${milliseconds(duration.med)}  p90 \${milliseconds(duration["p(90)"])}  p99 \${milliseconds(duration["p(99)"])}  p99.9 \${milliseconds(duration["p(99.9)"])}  max \${milliseconds(duration.max)}\`,
    \`  errors \${(failed.rate * 100).toFixed(2)}% (non-2xx/3xx or no response)\`,
  ];
  for (const [name, metric] of Object.entries(metrics)) {
    for (const [expression, result] of Object.entries(/** @type {any} */ (metric).thresholds || {}))
      lines.push(\`  \${/** @type {any} */ (result).ok ? "✓" : "✗"} \${name}: \${expression}\`);
  }
  return {
    stdout: \`\${lines.join("\\n")}\\n\`,
    [__ENV.SUMMARY_JSON || "summary.json"]: JSON.stringify(data, null, 2),
  };
}
`;
}
