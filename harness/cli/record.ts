import path from "node:path";
import { BadUsageError } from "../errors.ts";
import { type Command, withDocs } from "./command.ts";
import { parseHostPort, required } from "./flag-values.ts";
import { HELP_FLAG, parseFlags } from "./flags.ts";
import { untilAborted } from "./signals.ts";

// Described in the help's prose, not as a list.
const RECORD_FLAGS = {
  listen: { type: "string" },
  forward: { type: "string" },
  out: { type: "string" },
  "no-scrub": { type: "boolean" },
  help: HELP_FLAG,
} as const;

const EXAMPLE = `  faultline record --forward http://127.0.0.1:3000 --out fixtures/incident
  stripe listen --forward-to 127.0.0.1:9000/webhooks/stripe   # in another terminal
`;

const HELP_TEXT = `Usage: faultline record --forward <http://service> --out <dir> [--listen host:port] [--no-scrub]

A reverse proxy in front of your service that saves each request's raw body and headers as a
fixture (emails, names, card fingerprints replaced by stable fakes; signature headers dropped —
replay re-signs), until Ctrl-C. --listen defaults to 127.0.0.1:9000; --no-scrub keeps the data
as it came.

Example:
${EXAMPLE}`;

const HELP = withDocs("docs/record-replay.md", HELP_TEXT);

/** `faultline record`: a reverse proxy that saves every request as a fixture, until Ctrl-C. */
export const recordCommand: Command = {
  name: "record",
  summary: "a reverse proxy that saves every request to your service as a fixture, until Ctrl-C",
  flags: RECORD_FLAGS,
  example: EXAMPLE,
  help: HELP,
  interrupt: "stop",
  async run(args, signal) {
    const { values } = parseFlags(args, RECORD_FLAGS);
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const listen = parseHostPort(values.listen ?? "127.0.0.1:9000", "--listen", 9000);
    const forward = required(values.forward, "--forward");
    if (!/^https?:\/\//.test(forward))
      throw new BadUsageError(`--forward: expected an http:// URL, got ${JSON.stringify(forward)}`);
    const outDir = path.resolve(required(values.out, "--out"));
    const { startRecorder } = await import("../webhooks/index.ts");
    const recorder = await startRecorder({ listen, forward, outDir, scrub: !values["no-scrub"] });
    process.stdout.write(
      `faultline record: listening on ${recorder.host}:${recorder.port} → ${forward}; fixtures in ${outDir}\n`,
    );
    await untilAborted(signal);
    await recorder.stop();
    process.stdout.write(
      `faultline record: ${recorder.recorded()} request(s) saved in ${outDir}\n`,
    );
    return 0;
  },
};
