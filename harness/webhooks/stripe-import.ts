import { mkdir, readFile } from "node:fs/promises";
import { nextSequence, type RecordedMetadata, writeFixturePair } from "./recorder.ts";
import { scrubText } from "./scrub.ts";
import { stripeProvider } from "./stripe-provider.ts";

interface StripeEvent {
  id: string;
  type: string;
  created?: unknown;
  [key: string]: unknown;
}

const EXPECTED =
  'a Stripe event list as GET /v1/events returns: { "object": "list", "data": [events] }';

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return JSON.stringify(value) ?? String(value);
}

/** The list's events, checked: each an object with a string `id` and `type`. */
function parseEventList(file: string, text: string): StripeEvent[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not JSON (${(error as Error).message}); expected ${EXPECTED}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(`${file}: expected ${EXPECTED}, found ${describe(parsed)}`);
  }
  const list = parsed as { object?: unknown; data?: unknown };
  if (list.object !== "list") {
    throw new Error(`${file}: "object": expected "list", found ${describe(list.object)}`);
  }
  if (!Array.isArray(list.data)) {
    throw new Error(`${file}: "data": expected an array of events, found ${describe(list.data)}`);
  }
  list.data.forEach((event: unknown, i) => {
    if (!event || typeof event !== "object" || Array.isArray(event)) {
      throw new Error(`${file}: data[${i}]: expected an event object, found ${describe(event)}`);
    }
    const { id, type } = event as { id?: unknown; type?: unknown };
    if (typeof id !== "string" || !id) {
      throw new Error(`${file}: data[${i}].id: expected the event's id, found ${describe(id)}`);
    }
    if (typeof type !== "string" || !type) {
      throw new Error(
        `${file}: data[${i}].type: expected the event's type, found ${describe(type)}`,
      );
    }
  });
  return list.data as StripeEvent[];
}

/**
 * Oldest first. Stripe lists newest first, so the list is reversed before a stable sort by
 * `created`: events of the same second keep Stripe's relative order, oldest first.
 */
function chronological(events: StripeEvent[]): StripeEvent[] {
  const reversed = [...events].reverse();
  if (!reversed.every((e) => typeof e.created === "number")) return reversed;
  return reversed.sort((a, b) => (a.created as number) - (b.created as number));
}

/**
 * Turn an exported Stripe event list (`GET /v1/events`, `stripe events list`) into fixture
 * pairs in the recorder's format, oldest first, numbered after those already in `outDir`: each
 * body is the event pretty-printed (scrubbed unless `scrub: false`), posted to
 * `/webhooks/stripe`. `recordedAt` is the event's `created` time. Returns how many were written.
 * Throws an Error naming the file and what it expected when the file is not such a list.
 */
export async function importStripeEvents(
  file: string,
  outDir: string,
  options: { scrub?: boolean; salt?: string } = {},
): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new Error(`${file}: cannot read it (${(error as Error).message}); expected ${EXPECTED}`);
  }
  const events = chronological(parseEventList(file, text));
  await mkdir(outDir, { recursive: true });
  let sequence = await nextSequence(outDir);
  for (const event of events) {
    const body = JSON.stringify(event, null, 2);
    const metadata: RecordedMetadata = {
      method: "POST",
      path: stripeProvider.path,
      headers: { "content-type": "application/json; charset=utf-8" },
      provider: "stripe",
      eventId: event.id,
      type: event.type,
      recordedAt: new Date(
        typeof event.created === "number" ? event.created * 1000 : Date.now(),
      ).toISOString(),
    };
    await writeFixturePair(
      outDir,
      sequence++,
      metadata,
      options.scrub === false ? body : scrubText(body, options.salt),
    );
  }
  return events.length;
}
