import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { Agent, request } from "undici";
import { z } from "zod";
import { type Random, seededRandom } from "../random/index.ts";
import { STOCK_TEMPLATE_EPOCH, TEMPLATE_STEP_SECONDS } from "./clock.ts";
import type { WebhookProvider } from "./provider.ts";
import { endToEndHeaders, FIXTURE_FILE, SIGNATURE_HEADERS } from "./recorder.ts";
import { renderFixture } from "./render.ts";

// Lenient about what a hand-written fixture may leave out; strict about what it says.
const MetadataSchema = z.looseObject({
  method: z.string().optional(),
  path: z.string().startsWith("/", "expected a path starting with /").optional(),
  headers: z.record(z.string(), z.string()).optional(),
  provider: z.string().nullable().optional(),
  eventId: z.string().nullable().optional(),
  type: z.string().nullable().optional(),
  recordedAt: z.string().optional(),
});

/** A fixture's metadata as loaded: what the recorder writes, with the optional parts optional. */
export interface FixtureMetadata {
  method?: string;
  /** Where it was posted; replay falls back to the provider's path. */
  path?: string;
  headers: Record<string, string>;
  provider: string | null;
  eventId: string | null;
  type: string | null;
  recordedAt?: string;
}

/** One recorded webhook: a `<NNN>-<slug>.body` and its `.json`. */
export interface RecordedFixture {
  /** Path of the `.body` file. */
  file: string;
  /** Path of the `.json` file. */
  metadataFile: string;
  /** `<NNN>-<slug>`, the name the two files share. */
  name: string;
  /** NNN. */
  sequence: number;
  /** The body, exactly as saved (it is valid UTF-8, so it encodes back to the same bytes). */
  body: string;
  metadata: FixtureMetadata;
}

/** A stock fixture: a `<name>.json` payload template, as in fixtures/webhooks/<provider>/. */
export interface StockFixture {
  /** Path of the `.json` file. */
  file: string;
  /** The file name without `.json` (e.g. `checkout.session.completed`): the provider's fixture name. */
  name: string;
  /** The parsed template, `{{variables}}` and all. */
  template: unknown;
}

export { STOCK_TEMPLATE_EPOCH };

/** How replay sends the fixtures. */
export type ReplayPolicy = "inOrder" | "shuffled" | "concurrent" | "duplicated";

/** What happened to one send of one fixture. */
export interface ReplayResult {
  /** The recorded fixture's `.body` file, or the stock template's `.json`. */
  file: string;
  /** A recorded request sent byte for byte, or a stock template filled from the seed. */
  source: "recorded" | "stock";
  eventId: string | null;
  type: string | null;
  /** HTTP status, or 0 when no response came back. */
  status: number;
  /** Why there was no response (connection refused, timeout, signing failed). */
  error?: string;
  attempt: 1;
}

/** How to replay a fixture folder. */
export interface ReplayOptions {
  /** The fixture folder. */
  dir: string;
  /** The service's base URL, e.g. `http://127.0.0.1:8000`. */
  to: string;
  /** Signs every body afresh, as this provider does. */
  provider: WebhookProvider;
  secret: string;
  /**
   * inOrder (default): one after another, in NNN order; shuffled: one after another in a
   * seeded random order; concurrent: all at once; duplicated: each sent twice in a row.
   */
  policy?: ReplayPolicy;
  /**
   * Seed (default 0) for the values stock templates leave to the provider (ids, emails, as a
   * scenario with this randomSeed draws them) and for `shuffled`'s order: the same seed, the
   * same bytes in the same order.
   */
  seed?: number;
  /** The stock templates' clock in unix seconds (default {@link STOCK_TEMPLATE_EPOCH}). */
  templateNowSeconds?: number;
  /** How long one request may take, in milliseconds (default 10 000). */
  timeoutMs?: number;
  /** The signing clock (milliseconds since the epoch). */
  now?: () => number;
  /** Abort the replay (the requests in flight are cut, and replay rejects with the reason). */
  signal?: AbortSignal;
}

function issuePath(segments: PropertyKey[]): string {
  return segments.length ? `"${segments.map(String).join(".")}": ` : "";
}

async function loadMetadata(file: string): Promise<FixtureMetadata> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new Error(`${file}: cannot read the fixture's metadata (${(error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: the fixture's metadata is not JSON (${(error as Error).message})`);
  }
  const result = MetadataSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(
      `${file}: invalid fixture metadata: ${issue ? `${issuePath(issue.path)}${issue.message}` : result.error.message}`,
    );
  }
  const m = result.data;
  return {
    ...(m.method !== undefined ? { method: m.method } : {}),
    ...(m.path !== undefined ? { path: m.path } : {}),
    headers: m.headers ?? {},
    provider: m.provider ?? null,
    eventId: m.eventId ?? null,
    type: m.type ?? null,
    ...(m.recordedAt !== undefined ? { recordedAt: m.recordedAt } : {}),
  };
}

/**
 * The fixture pairs in `dir` (other files are ignored), sorted by NNN. Throws an Error naming
 * the file when a body has no metadata, metadata has no body, metadata is not valid, or a body
 * is not UTF-8 text (providers sign text).
 */
export async function loadRecordedFixtures(dir: string): Promise<RecordedFixture[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new Error(`${dir}: cannot read the fixture folder (${(error as Error).message})`);
  }
  const pairs = new Map<string, { sequence: number; json?: boolean; body?: boolean }>();
  for (const name of names) {
    const match = FIXTURE_FILE.exec(name);
    if (!match) continue;
    const base = name.slice(0, -(match[3] as string).length - 1);
    const pair = pairs.get(base) ?? { sequence: Number(match[1]) };
    if (match[3] === "json") pair.json = true;
    else pair.body = true;
    pairs.set(base, pair);
  }
  const sorted = [...pairs].sort(([a, x], [b, y]) =>
    x.sequence !== y.sequence ? x.sequence - y.sequence : a < b ? -1 : a > b ? 1 : 0,
  );
  const fixtures: RecordedFixture[] = [];
  for (const [name, pair] of sorted) {
    const file = path.join(dir, `${name}.body`);
    const metadataFile = path.join(dir, `${name}.json`);
    if (!pair.json) {
      throw new Error(`${metadataFile}: missing; the fixture ${name}.body needs its metadata file`);
    }
    if (!pair.body) {
      throw new Error(`${file}: missing; the metadata ${name}.json has no body file beside it`);
    }
    const metadata = await loadMetadata(metadataFile);
    let body: string;
    try {
      body = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
        await readFile(file),
      );
    } catch (error) {
      throw new Error(
        `${file}: cannot replay it: not valid UTF-8 text (${(error as Error).message})`,
      );
    }
    fixtures.push({ file, metadataFile, name, sequence: pair.sequence, body, metadata });
  }
  return fixtures;
}

/**
 * The stock templates in `dir`: every `.json` that is not half of a recorded pair, sorted by
 * name. Throws naming the file when one is not JSON.
 */
export async function loadStockFixtures(dir: string): Promise<StockFixture[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new Error(`${dir}: cannot read the fixture folder (${(error as Error).message})`);
  }
  const stock: StockFixture[] = [];
  for (const name of names.filter((n) => n.endsWith(".json") && !FIXTURE_FILE.test(n)).sort()) {
    const file = path.join(dir, name);
    let template: unknown;
    try {
      template = JSON.parse(await readFile(file, "utf8"));
    } catch (error) {
      throw new Error(
        `${file}: cannot replay it: a stock fixture must be a JSON payload template (${(error as Error).message})`,
      );
    }
    stock.push({ file, name: name.slice(0, -".json".length), template });
  }
  return stock;
}

/** The error for a folder with nothing to send: what it holds and what replay looks for. */
async function nothingToReplay(dir: string): Promise<Error> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : 1,
  );
  const names = entries.map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
  const found = names.length
    ? `found only ${names.slice(0, 5).join(", ")}${names.length > 5 ? `, … (${names.length} entries)` : ""}${entries.some((e) => e.isDirectory()) ? " (sub-folders are not searched)" : ""}`
    : "the folder is empty";
  return new Error(
    `${dir}: nothing to replay: expected recorded fixtures (NNN-name.body + NNN-name.json pairs, as faultline record and faultline import write them) or stock templates (<event>.json, as in fixtures/webhooks/<provider>/); ${found}`,
  );
}

/** One request ready to go: recorded bytes, or a stock template already filled. */
interface Sendable {
  file: string;
  source: ReplayResult["source"];
  body: string;
  path: string | undefined;
  headers: Record<string, string>;
  eventId: string | null;
  type: string | null;
  /** The name the provider knows the fixture by (some sign with the event name). */
  fixture: string;
}

/** A seeded Fisher–Yates shuffle: the same seed, the same order. */
function shuffle<T>(items: readonly T[], random: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * POST every fixture in `dir` to `to` + its recorded path (else the provider's), signed afresh
 * by `provider`: recorded pairs (in NNN order) with the exact saved body and recorded headers,
 * then stock templates (by name) filled from `seed`. Never throws for the service's failures
 * and never hangs: each request has a timeout, and a refused connection or a timeout is a
 * result with status 0 and the error. Rejects only for a bad fixture folder (one with nothing
 * to send included), a template variable nobody fills, an unknown policy, or an abort through
 * `signal`; before anything is sent, except for the abort.
 */
export async function replay(options: ReplayOptions): Promise<ReplayResult[]> {
  const policy = options.policy ?? "inOrder";
  const policies: ReplayPolicy[] = ["inOrder", "shuffled", "concurrent", "duplicated"];
  if (!policies.includes(policy)) {
    throw new Error(`replay: policy: expected one of ${policies.join(", ")}, got "${policy}"`);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const base = options.to.replace(/\/+$/, "");
  const { provider, secret } = options;
  const seed = options.seed ?? 0;
  const recorded = await loadRecordedFixtures(options.dir);
  const stock = await loadStockFixtures(options.dir);
  if (!recorded.length && !stock.length) throw await nothingToReplay(options.dir);
  const fixtures: Sendable[] = recorded.map((f) => ({
    file: f.file,
    source: "recorded",
    body: f.body,
    path: f.metadata.path,
    headers: f.metadata.headers,
    eventId: f.metadata.eventId,
    type: f.metadata.type,
    fixture: f.metadata.type ?? "",
  }));
  // One stream for all templates, drawn in file order before any shuffling, so a fixture's
  // bytes depend on the seed and the folder, never on the policy.
  const random = seededRandom(seed);
  for (const [index, f] of stock.entries()) {
    const rendered = renderFixture(f.template, {
      provider,
      fixture: f.name,
      random,
      // In file order, each template a step later than the one before (see templateClock).
      nowSeconds:
        (options.templateNowSeconds ?? STOCK_TEMPLATE_EPOCH) + index * TEMPLATE_STEP_SECONDS,
      where: f.file,
    });
    fixtures.push({
      file: f.file,
      source: "stock",
      body: rendered.payload,
      path: undefined,
      headers: {},
      eventId: rendered.eventId ?? null,
      type: rendered.type ?? null,
      fixture: f.name,
    });
  }
  // Our own connection pool, closed at the end, so no keep-alive socket outlives the replay.
  const agent = new Agent();

  async function send(fixture: Sendable): Promise<ReplayResult> {
    options.signal?.throwIfAborted();
    const { eventId, type } = fixture;
    const result = {
      file: fixture.file,
      source: fixture.source,
      eventId,
      type,
      attempt: 1 as const,
    };
    let signature: Record<string, string>;
    try {
      signature = await provider.sign(fixture.body, secret, Math.floor(now() / 1000), {
        fixture: fixture.fixture,
        eventId: eventId ?? "",
        type: type ?? "",
      });
    } catch (error) {
      return { ...result, status: 0, error: `could not sign it: ${(error as Error).message}` };
    }
    const recorded = Object.entries(endToEndHeaders(lowerCaseKeys(fixture.headers)));
    const headers = {
      "content-type": "application/json; charset=utf-8",
      // Stale signatures a hand-made fixture may still carry would sit beside the fresh ones.
      ...Object.fromEntries(recorded.filter(([name]) => !SIGNATURE_HEADERS.has(name))),
      ...lowerCaseKeys(signature),
    };
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const response = await request(`${base}${fixture.path ?? provider.path}`, {
        method: "POST",
        headers,
        body: fixture.body,
        dispatcher: agent,
        signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await response.body.arrayBuffer();
      return { ...result, status: response.statusCode };
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      const { name, code } = error as { name?: string; code?: string };
      const timedOut =
        timeout.aborted || name === "TimeoutError" || code === "UND_ERR_HEADERS_TIMEOUT";
      return {
        ...result,
        status: 0,
        error: timedOut
          ? `no response within ${timeoutMs} ms`
          : (error as Error).message || String(error),
      };
    }
  }

  const results: ReplayResult[] = [];
  try {
    if (policy === "concurrent") {
      results.push(...(await Promise.all(fixtures.map(send))));
    } else {
      const order = policy === "shuffled" ? shuffle(fixtures, seededRandom(seed)) : fixtures;
      for (const fixture of order) {
        results.push(await send(fixture));
        if (policy === "duplicated") results.push(await send(fixture));
      }
    }
  } finally {
    await agent.destroy();
  }
  return results;
}
