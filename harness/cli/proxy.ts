import { BadUsageError } from "../errors.ts";
import { type Command, withDocs } from "./command.ts";
import { parseHostPort, parseSeed, required } from "./flag-values.ts";
import { formatFlags, HELP_FLAG, parseFlags } from "./flags.ts";
import { RUN_FLAGS_WIDTH } from "./run-flags.ts";
import { untilAborted } from "./signals.ts";

const PROXY_FLAGS = {
  upstream: {
    type: "string",
    value: "<url>",
    help: ["the real server, postgres://host:port (user and database come", "from each client)"],
  },
  listen: {
    type: "string",
    value: "<host:port>",
    help: ["where to listen (default 127.0.0.1:6543)"],
  },
  rules: {
    type: "string",
    value: "<file.json>",
    help: ['{ "seed": 7, "rules": [{ "name", "match": {…}, "fault": {…} }] }'],
  },
  trace: {
    type: "string",
    value: "<file.ndjson>",
    help: ["append every statement of every connection"],
  },
  seed: {
    type: "string",
    value: "<n>",
    help: ["seed for probabilistic rules (overrides the file's)"],
  },
  "allow-remote-upstream": {
    type: "boolean",
    help: ["allow an upstream that is not on this machine's loopback"],
  },
  help: HELP_FLAG,
} as const;

/** Proxy's section of the global usage, which its help repeats. */
export const PROXY_SECTION = `faultline proxy: a fault-injecting Postgres proxy in front of any Postgres, until Ctrl-C.
${formatFlags(PROXY_FLAGS, RUN_FLAGS_WIDTH)}`;

const EXAMPLE = `  faultline proxy --upstream postgres://127.0.0.1:5432 --rules rules.json --trace trace.ndjson
  psql "postgres://me@127.0.0.1:6543/app"      # then point your service at port 6543
`;

const HELP_TEXT = `Usage: faultline proxy --upstream <postgres://host:port> [options]

${PROXY_SECTION}

Example:
${EXAMPLE}`;

const HELP = withDocs("docs/faults.md", HELP_TEXT);

/** `faultline proxy`: a fault-injecting Postgres proxy, until Ctrl-C. */
export const proxyCommand: Command = {
  name: "proxy",
  summary: "a fault-injecting Postgres proxy in front of any Postgres, until Ctrl-C",
  flags: PROXY_FLAGS,
  example: EXAMPLE,
  help: HELP,
  interrupt: "stop",
  async run(args, signal) {
    const { values } = parseFlags(args, PROXY_FLAGS);
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const upstream = parseHostPort(
      required(values.upstream, "--upstream", "postgres://host:port of the real server"),
      "--upstream",
    );
    const { isLoopback } = await import("../postgres/index.ts");
    if (!isLoopback(upstream.host) && !values["allow-remote-upstream"]) {
      throw new BadUsageError(
        `--upstream ${upstream.host} is not on loopback; pass --allow-remote-upstream if you mean it`,
      );
    }
    const listen = parseHostPort(values.listen ?? "127.0.0.1:6543", "--listen", 6543);
    const { loadRulesFile, startProxy } = await import("../proxy/index.ts");
    const rulesFile = values.rules;
    const tracePath = values.trace;
    const file = rulesFile ? await loadRulesFile(rulesFile) : { rules: [], seed: undefined };
    const seed = parseSeed(values.seed) ?? file.seed ?? 0;
    let started: Awaited<ReturnType<typeof startProxy>>;
    try {
      started = await startProxy({
        upstream,
        listen,
        rules: file.rules,
        seed,
        tracePath,
        onFault: (e) =>
          process.stdout.write(
            `fault: rule ${JSON.stringify(e.rule)} (${e.fault}) on connection ${e.conn}${e.sql ? `: ${e.sql.replace(/\s+/g, " ").slice(0, 200)}` : ""}\n`,
          ),
      });
    } catch (error) {
      throw new BadUsageError(
        `--listen ${listen.host}:${listen.port}: ${(error as Error).message}`,
      );
    }
    process.stdout.write(
      `faultline proxy: listening on ${started.host}:${started.port} → ${upstream.host}:${upstream.port}; ${file.rules.length} rule(s), seed ${seed}${tracePath ? `, trace ${tracePath}` : ""}\n`,
    );
    await untilAborted(signal);
    await started.stop();
    process.stdout.write("faultline proxy: stopped\n");
    return 0;
  },
};
