import { BadUsageError } from "../errors.ts";
import { shellWord } from "../report/markdown.ts";
import { type Command, withDocs } from "./command.ts";
import { parseSeed } from "./flag-values.ts";
import { formatFlags, HELP_FLAG, parseFlags } from "./flags.ts";
import { loadProfile } from "./load-profile.ts";

const K6_FLAGS = {
  out: {
    type: "string",
    value: "<file>",
    help: ["where to write the script (default: standard output)"],
  },
  rate: {
    type: "string",
    label: "--rate, --duration, --ramp, --threshold",
    help: [
      "read as faultline load reads them (default 50/s for",
      "60s); the ramp is the start of the duration. k6 iterates a whole",
      "number of times per second or minute, so 0.5/s is written 30/m.",
      "Thresholds map to k6's: latency ones on http_req_duration, errors<N%",
      "on http_req_failed, rate>=N/s on http_reqs. A run that drops more",
      "than 1% of its iterations (could not keep the rate) always fails.",
    ],
  },
  duration: { type: "string" },
  ramp: { type: "string" },
  threshold: { type: "string", multiple: true },
  seed: {
    type: "string",
    value: "<n>",
    help: ["seed for the values drawn once at export (default: randomSeed)"],
  },
  config: {
    type: "string",
    value: "<file>",
    help: ["faultline.config.ts whose webhook paths to post to"],
  },
  help: HELP_FLAG,
} as const;

const EXAMPLE = `  faultline k6 scenarios/credits-balance-present.scenario.ts --out load.js \\
    --rate 200/s --duration 60s --ramp 30s --threshold 'p99<300ms' --threshold 'errors<0.1%'
  K6_TARGET=http://127.0.0.1:3000 WEBHOOK_SECRET=whsec_… k6 run load.js
`;

const HELP_TEXT = `Usage: faultline k6 <scenario> [--out load.js] [--rate 200/s] [--duration 60s] [--ramp 30s]
                    [--threshold 'p99<300ms' …] [--seed n] [--config file]

Writes the scenario's webhooks as a k6 script for load beyond one machine: an arrival-rate
scenario (requests start on schedule whether or not earlier ones returned), k6 thresholds, each
provider's signature made with k6/crypto (stripe, standard, github, lemonsqueezy), fresh ids and
emails every cycle through the scenario's webhooks, and handleSummary. It runs as is with
\`k6 run\` and unchanged on the Kubernetes k6 operator (a TestRun with parallelism). The script
reads K6_TARGET (the service's base URL), WEBHOOK_SECRET, RUN_ID and SUMMARY_JSON from the
environment. Rule steps, recorded requests and deliberately bad signatures are left out.

Options:
${formatFlags(K6_FLAGS, 22)}
Example:
${EXAMPLE}`;

const HELP = withDocs("docs/load.md", HELP_TEXT);

/** `faultline k6 <scenario> --out load.js`: the scenario's webhooks as a k6 script. */
export const k6Command: Command = {
  name: "k6",
  summary: "write a scenario's webhooks as a k6 script, for load beyond one machine",
  flags: K6_FLAGS,
  example: EXAMPLE,
  help: HELP,
  async run(args) {
    const { values, positionals } = parseFlags(args, K6_FLAGS, { positionals: true });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const [file, ...extra] = positionals;
    if (!file || extra.length) throw new BadUsageError(`k6: expected one scenario file\n\n${HELP}`);
    const k6 = await import("../k6/index.ts");
    // A k6 script is edited and re-run, so it has a starting shape; `load` asks for one.
    const profile = await loadProfile(values, { rate: "50/s", duration: "60s" });
    const rate = k6.k6Rate(profile.rateSpec);
    const thresholds = profile.thresholds.map(k6.k6Threshold);
    const { findConfigFile, loadConfig } = await import("../config/index.ts");
    const configFile = values.config ?? (await findConfigFile());
    const config = configFile ? await loadConfig(configFile) : undefined;
    const seed = parseSeed(values.seed);
    const exported = await k6.exportK6Script(file, {
      rate,
      durationMs: profile.durationMs,
      ...(profile.rampMs ? { rampMs: profile.rampMs } : {}),
      thresholds,
      ...(seed === undefined ? {} : { seed }),
      ...(config ? { paths: config.webhookPaths } : {}),
      ...(config?.stripeApiVersion ? { stripeApiVersion: config.stripeApiVersion } : {}),
      command: ["faultline", "k6", ...args].map(shellWord).join(" "),
    });
    const out = values.out;
    if (out === undefined || out === "-") {
      process.stdout.write(exported.script);
      return 0;
    }
    const { writeReportFile } = await import("../report/index.ts");
    await writeReportFile(out, exported.script);
    process.stderr.write(
      `faultline k6: ${exported.scenario} (${exported.steps} webhook(s) in turn) at ${rate.count}/${rate.perSeconds === 1 ? "s" : "m"} for ${k6.k6Duration(profile.durationMs)}${profile.rampMs ? ` (the first ${k6.k6Duration(profile.rampMs)} ramping up)` : ""} → ${out}\n  run it: K6_TARGET=http://127.0.0.1:3000 WEBHOOK_SECRET=… k6 run ${shellWord(out)}\n`,
    );
    return 0;
  },
};
