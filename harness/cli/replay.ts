import path from "node:path";
import { BadUsageError } from "../errors.ts";
import { type Command, withDocs } from "./command.ts";
import { parseSeed, required } from "./flag-values.ts";
import { HELP_FLAG, parseFlags, UsageError } from "./flags.ts";

// Described in the help's usage line and prose, not as a list.
const REPLAY_FLAGS = {
  to: { type: "string" },
  provider: { type: "string" },
  secret: { type: "string" },
  policy: { type: "string" },
  seed: { type: "string" },
  help: HELP_FLAG,
} as const;

const POLICIES = ["inOrder", "shuffled", "concurrent", "duplicated"] as const;

const EXAMPLE = `  faultline replay fixtures/incident --to http://127.0.0.1:3000 --provider stripe \\
    --secret "$STRIPE_WEBHOOK_SECRET" --policy duplicated
`;

const HELP_TEXT = `Usage: faultline replay <dir> --to <http://service> --provider <name> --secret <secret>
                        [--policy inOrder|shuffled|concurrent|duplicated] [--seed n]

Sends every fixture in a folder, re-signed as the provider signs (stripe, standard, github,
shopify, paddle, lemonsqueezy): recorded pairs (NNN-name.body + .json) byte for byte, then stock
templates (<event>.json, as in fixtures/webhooks/<provider>/) filled from --seed (printed;
default a new one). Exit 0 when every delivery got a 2xx, 1 otherwise, 2 when the folder has
nothing to send.

Example:
${EXAMPLE}`;

const HELP = withDocs("docs/record-replay.md", HELP_TEXT);

/** `faultline replay DIR --to URL --provider NAME --secret SECRET [--policy P] [--seed N]`. */
export const replayCommand: Command = {
  name: "replay",
  summary: "send every fixture in a folder to a service, re-signed as its provider signs",
  flags: REPLAY_FLAGS,
  example: EXAMPLE,
  help: HELP,
  async run(args, signal) {
    const { values, positionals } = parseFlags(args, REPLAY_FLAGS, { positionals: true });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const [dir, ...extra] = positionals;
    if (!dir || extra.length)
      throw new UsageError("usage: faultline replay DIR --to URL --provider NAME --secret SECRET");
    const to = required(values.to, "--to").replace(/\/$/, "");
    if (!/^https?:\/\//.test(to))
      throw new BadUsageError(`--to: expected an http:// URL, got ${JSON.stringify(to)}`);
    const providerName = required(values.provider, "--provider");
    const secret = required(values.secret, "--secret");
    const policy = values.policy ?? "inOrder";
    if (!(POLICIES as readonly string[]).includes(policy))
      throw new BadUsageError(
        `--policy: expected one of ${POLICIES.join(", ")}, got ${JSON.stringify(policy)}`,
      );
    const webhooks = await import("../webhooks/index.ts");
    const provider = webhooks.webhookProviders[providerName];
    if (!provider) {
      throw new BadUsageError(
        `--provider: unknown provider ${JSON.stringify(providerName)} (known: ${Object.keys(webhooks.webhookProviders).join(", ")})`,
      );
    }
    // Stock templates are filled from the seed: print it, so the same bytes can be sent again.
    const seed = parseSeed(values.seed) ?? (await import("../random/index.ts")).newSeed();
    process.stdout.write(
      `faultline replay: ${dir} → ${to}, seed ${seed} (--seed ${seed} sends the same bytes)\n`,
    );
    let results: Awaited<ReturnType<typeof webhooks.replay>>;
    try {
      results = await webhooks.replay({
        dir: path.resolve(dir),
        to,
        provider,
        secret,
        policy: policy as (typeof POLICIES)[number],
        seed,
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new BadUsageError((error as Error).message);
    }
    for (const r of results) {
      const outcome = r.status === 0 ? `no response (${r.error})` : `HTTP ${r.status}`;
      process.stdout.write(
        `${r.status >= 200 && r.status < 300 ? "ok  " : "FAIL"} ${path.basename(r.file)} ${r.type ?? ""} ${r.eventId ?? ""} → ${outcome}\n`,
      );
    }
    const ok = results.filter((r) => r.status >= 200 && r.status < 300).length;
    const stock = results.filter((r) => r.source === "stock").length;
    process.stdout.write(
      `${ok} passed, ${results.length - ok} failed (${results.length - stock} recorded, ${stock} stock; seed ${seed})\n`,
    );
    return ok === results.length ? 0 : 1;
  },
};
