import { GATE_SECTION } from "./gate.ts";
import { LOAD_SECTION } from "./load.ts";
import { PROXY_SECTION } from "./proxy.ts";
import { RUN_SECTION } from "./run.ts";

/**
 * The global usage: `faultline --help`, and what follows a malformed command line. The sections
 * that a command's own help repeats come from that command.
 */
export const USAGE = `Usage: faultline run [files, folders or globs…] [options]
       faultline gate [files, folders or globs…] --baseline <service> --candidate <service> [options]
       faultline load <scenario> --rate 200/s --duration 60s [--ramp 30s] [--faults …] [--threshold …]
       faultline explore [files, folders or globs…] [--faults kinds] [--max-runs n] [--budget 5m] [--out dir]
       faultline drift --production <pg_dump file | url:postgres://…> [--write axis.ts] [--json file]
       faultline incident <log files…> [--since time] [--until time] [--fixtures dir] [--out file]
       faultline init [dir] [--check]
       faultline postgres fetch <major>
       faultline proxy --upstream <postgres://host:port> [options]
       faultline record --forward <http://service> --out <dir> [--listen host:port]
       faultline import stripe-events <events.json> [--out <dir>]
       faultline replay <dir> --to <http://service> --provider <name> --secret <secret>
                        [--policy inOrder|shuffled|concurrent|duplicated] [--seed n]
       faultline k6 <scenario> [--out load.js] [--rate 200/s] [--duration 60s] [--ramp 30s]
                        [--threshold 'p99<300ms' …]
       faultline <command> --help   (each command's options and an example)

${RUN_SECTION}
${GATE_SECTION}
${PROXY_SECTION}
${LOAD_SECTION}
faultline drift: production's schema (a pg_dump --schema-only file, or a URL read read-only)
  against the migrations': missing tables and columns first, then types, nullability, defaults,
  constraints, indexes; exit 1 when it differs. --write: a matrix axis for gate.
faultline incident: read production's Postgres server log (stderr with any log_line_prefix,
  csvlog, jsonlog) and application log (the drivers' exceptions) back into the incident — the
  first error, the statements its aborted transaction ignored — and write the scenario that
  reproduces it, saying what was inferred rather than read.
faultline init: detect the service, migrations, Stripe webhook route and env variables in dir
  (default: the current folder), write faultline.config.ts and faultline/incident.scenario.ts
  (existing files are kept) and print each guess with the file:line it came from.
faultline postgres fetch <major>: download Postgres <major> (15–18) for --postgres embedded:<major>
  into ~/.cache/faultline/postgres (FAULTLINE_POSTGRES_CACHE), so later runs need no network.
faultline record: a reverse proxy in front of your service that saves each request's raw body
  and headers as a fixture (emails, names, card fingerprints replaced by stable fakes; signature
  headers dropped — replay re-signs), until Ctrl-C. --no-scrub keeps the data as it came.
faultline import stripe-events: an exported Stripe event list ({ "object": "list", "data": […] })
  into the same fixtures. faultline replay: send every fixture in a folder, re-signed as the
  provider signs (stripe, standard, github, shopify, paddle, lemonsqueezy): recorded pairs
  (NNN-name.body + .json) byte for byte, then stock templates (<event>.json, as in
  fixtures/webhooks/<provider>/) filled from --seed (printed; default a new one); exit 0 when
  every delivery got a 2xx, 1 otherwise, 2 when the folder has nothing to send.
faultline k6: write the scenario's webhooks as a k6 script (arrival-rate scenario, thresholds,
  signatures made with k6/crypto, fresh ids per iteration, handleSummary) for \`k6 run\` or the
  k6 operator; see faultline k6 --help.

Colour only on a terminal, never with NO_COLOR set.
`;
