import { mkdir, readdir, writeFile } from "node:fs/promises";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import path from "node:path";
import { Agent, request } from "undici";
import { onExit } from "../lifecycle/index.ts";
import { scrubText } from "./scrub.ts";

/** The `<NNN>-<slug>.json` beside each recorded `<NNN>-<slug>.body`. */
export interface RecordedMetadata {
  method: string;
  /** Path and query string, as the sender requested them. */
  path: string;
  /** The request's headers, without hop-by-hop, credential and signature headers. */
  headers: Record<string, string>;
  /** The provider guessed from the signature headers, or null. */
  provider: string | null;
  eventId: string | null;
  type: string | null;
  /** ISO 8601. */
  recordedAt: string;
}

/**
 * Signature headers of every provider: dropped when recording (they would be stale, and the
 * secret that made them is not the replay's), added afresh by the provider on replay.
 */
export const SIGNATURE_HEADERS: ReadonlySet<string> = new Set([
  "stripe-signature",
  "webhook-signature",
  "webhook-timestamp",
  "x-hub-signature",
  "x-hub-signature-256",
  "x-shopify-hmac-sha256",
  "paddle-signature",
  "x-signature",
]);

// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the HTTP client sets itself.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
  "host",
  "content-length",
]);

// Credentials never belong in a fixture folder that may be committed.
const CREDENTIALS = new Set(["authorization", "proxy-authorization", "cookie"]);

/** Headers safe to pass on to another hop: hop-by-hop ones (and those `connection` names) removed. */
export function endToEndHeaders(headers: Record<string, string>): Record<string, string> {
  const named = new Set(
    (headers.connection ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!HOP_BY_HOP.has(lower) && !named.has(lower)) out[lower] = value;
  }
  return out;
}

/** The headers a fixture keeps: end-to-end ones, minus credentials and signatures. */
export function fixtureHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(endToEndHeaders(headers)).filter(
      ([name]) => !SIGNATURE_HEADERS.has(name) && !CREDENTIALS.has(name),
    ),
  );
}

/** The provider that sent a request, from its signature headers (lower-case names), or null. */
export function guessProvider(headers: Record<string, string>): string | null {
  if (headers["stripe-signature"]) return "stripe";
  if (headers["webhook-signature"]) return "standard";
  if (headers["x-hub-signature-256"]) return "github";
  if (headers["x-shopify-hmac-sha256"]) return "shopify";
  if (headers["paddle-signature"]) return "paddle";
  if (headers["x-signature"] && headers["x-event-name"]) return "lemonsqueezy";
  return null;
}

function text(value: unknown): string | null {
  if (typeof value === "string" && value) return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

/**
 * The event id and type of a webhook: from the JSON body (`id` / `event_id`; `type` /
 * `event_type` / `meta.event_name`), else from the headers that carry them (`webhook-id`;
 * `x-github-event`, `x-shopify-topic`).
 */
export function describeEvent(
  body: string,
  headers: Record<string, string>,
): { eventId: string | null; type: string | null } {
  let parsed: Record<string, unknown> = {};
  try {
    const value: unknown = JSON.parse(body);
    if (value && typeof value === "object" && !Array.isArray(value)) {
      parsed = value as Record<string, unknown>;
    }
  } catch {
    // Not JSON: only the headers can say.
  }
  const meta = parsed.meta && typeof parsed.meta === "object" ? parsed.meta : {};
  return {
    eventId: text(parsed.id) ?? text(parsed.event_id) ?? text(headers["webhook-id"]),
    type:
      text(parsed.type) ??
      text(parsed.event_type) ??
      text((meta as Record<string, unknown>).event_name) ??
      text(headers["x-github-event"]) ??
      text(headers["x-shopify-topic"]),
  };
}

// `<NNN>-<slug>.json` or `.body`.
export const FIXTURE_FILE = /^(\d+)-(.+)\.(json|body)$/;

/** The number after the highest fixture already in `dir` (1 for an empty or missing folder). */
export async function nextSequence(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 1;
    throw error;
  }
  let highest = 0;
  for (const name of names) {
    const match = FIXTURE_FILE.exec(name);
    if (match) highest = Math.max(highest, Number(match[1]));
  }
  return highest + 1;
}

/** `<NNN>-<slug>`: the sequence zero-padded to three digits, the type with `-` for the rest. */
export function fixtureName(sequence: number, type: string | null): string {
  const slug = (type ?? "")
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 80);
  return `${String(sequence).padStart(3, "0")}-${slug || "request"}`;
}

/**
 * Write one fixture pair, body first: a reader that finds the `.json` finds its body too.
 * Returns the pair's name.
 */
export async function writeFixturePair(
  dir: string,
  sequence: number,
  metadata: RecordedMetadata,
  body: Uint8Array | string,
): Promise<string> {
  const name = fixtureName(sequence, metadata.type);
  await writeFile(path.join(dir, `${name}.body`), body);
  await writeFile(path.join(dir, `${name}.json`), `${JSON.stringify(metadata, null, 2)}\n`);
  return name;
}

/**
 * A body as text for scrubbing: UTF-8 when it is valid UTF-8, else Latin-1, which maps every
 * byte to one character and back, so no byte outside the replaced values changes.
 */
export function scrubBytes(body: Uint8Array, salt?: string): Buffer {
  try {
    const decoded = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body);
    return Buffer.from(scrubText(decoded, salt), "utf8");
  } catch {
    return Buffer.from(scrubText(Buffer.from(body).toString("latin1"), salt), "latin1");
  }
}

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function isTimeout(error: unknown): boolean {
  const { name, code } = error as { name?: string; code?: string };
  return (
    name === "TimeoutError" || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT"
  );
}

/** How to start a recorder. */
export interface RecorderOptions {
  /** Where to listen; port 0 picks a free one. */
  listen: { host: string; port: number };
  /** The service's base URL, e.g. `http://127.0.0.1:8000`; request paths are appended to it. */
  forward: string;
  /** The fixture folder (created if missing); numbering continues after what it holds. */
  outDir: string;
  /** Replace emails, names, fingerprints and phones in saved bodies, and emails in saved headers (default true). */
  scrub?: boolean;
  /** Salt for the scrubbed fakes' hashes (default none). */
  salt?: string;
  /** How long one forwarded request may take, in milliseconds (default 10 000). */
  timeoutMs?: number;
  /** The clock for `recordedAt` (milliseconds since the epoch). */
  now?: () => number;
}

/** A running recorder. */
export interface StartedRecorder extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** Fixture pairs saved so far. */
  recorded(): number;
  /** Stop listening, let requests in flight finish (up to the timeout), close every connection. */
  stop(): Promise<void>;
}

/**
 * A reverse proxy in front of a webhook service that saves every request it forwards as a
 * fixture pair (`<NNN>-<slug>.body` + `.json`) for `replay`. The service gets the request as
 * sent (signature included, unscrubbed); the caller gets the service's answer, or 502 when the
 * service cannot be reached (504 when it does not answer in time). The fixture is saved before
 * forwarding, so it exists whatever the service does; if it cannot be saved the request is
 * answered 500 and not forwarded.
 */
export async function startRecorder(options: RecorderOptions): Promise<StartedRecorder> {
  const scrub = options.scrub ?? true;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const forward = options.forward.replace(/\/+$/, "");
  await mkdir(options.outDir, { recursive: true });
  let sequence = await nextSequence(options.outDir);
  let saved = 0;
  // Our own connection pool, so stop() leaves no socket to the service open.
  const agent = new Agent();
  const inFlight = new Set<Promise<void>>();

  async function handle(req: IncomingMessage, res: ServerResponse) {
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      // The sender went away mid-body: nothing to record or forward.
      res.destroy();
      return;
    }
    const headers = flatten(req.headers);
    const method = req.method ?? "POST";
    const url = req.url ?? "/";
    const { eventId, type } = describeEvent(body.toString("utf8"), headers);
    const metadata: RecordedMetadata = {
      method,
      path: url,
      // Emails turn up in headers too (`from`, custom ones): scrubbed like the body.
      headers: scrub
        ? Object.fromEntries(
            Object.entries(fixtureHeaders(headers)).map(([k, v]) => [
              k,
              scrubText(v, options.salt),
            ]),
          )
        : fixtureHeaders(headers),
      provider: guessProvider(headers),
      eventId,
      type,
      recordedAt: new Date(now()).toISOString(),
    };
    try {
      await writeFixturePair(
        options.outDir,
        sequence++,
        metadata,
        scrub ? scrubBytes(body, options.salt) : body,
      );
      saved++;
    } catch (error) {
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      res.end(`faultline recorder: could not save the fixture: ${(error as Error).message}\n`);
      return;
    }
    try {
      const response = await request(`${forward}${url}`, {
        method,
        headers: endToEndHeaders(headers),
        body: body.length > 0 || !["GET", "HEAD"].includes(method) ? body : undefined,
        dispatcher: agent,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const answer = Buffer.from(await response.body.arrayBuffer());
      const back: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) {
          back[name] = value;
        }
      }
      // The body is passed on whole, so its length is known (and right even if it was chunked).
      if (method !== "HEAD") back["content-length"] = String(answer.length);
      else if (response.headers["content-length"] !== undefined) {
        back["content-length"] = String(response.headers["content-length"]);
      }
      res.writeHead(response.statusCode, back);
      res.end(answer);
    } catch (error) {
      const timedOut = isTimeout(error);
      res.writeHead(timedOut ? 504 : 502, { "content-type": "text/plain; charset=utf-8" });
      res.end(
        timedOut
          ? `faultline recorder: ${forward} did not answer within ${timeoutMs} ms\n`
          : `faultline recorder: could not reach ${forward}: ${(error as Error).message}\n`,
      );
    }
  }

  const server = createServer((req, res) => {
    const done = handle(req, res)
      .catch(() => {
        // Writing to a caller that already hung up; nothing left to tell anyone.
        res.destroy();
      })
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  });
  server.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.listen.port;
  const unregister = onExit(() => server.close());
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...inFlight]),
        new Promise<void>((resolve) => {
          grace = setTimeout(resolve, timeoutMs + 1000);
        }),
      ]);
      clearTimeout(grace);
      server.closeAllConnections();
      await closed;
      await agent.close();
      unregister();
    })();
    return stopping;
  };
  return {
    host: options.listen.host,
    port,
    recorded: () => saved,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
