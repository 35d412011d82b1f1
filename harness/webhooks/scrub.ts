import { createHash } from "node:crypto";

// A JSON string token, escapes included (unrolled so long strings cost no backtracking).
const STRING_TOKEN = /"[^"\\]*(?:\\[\s\S][^"\\]*)*"/g;
// What may sit between a key's string token and its value.
const COLON = /\s*:/y;
// An escape sequence is consumed whole first, so an email can never start inside one (`\n` in
// `"\nann@example.org"` is not part of the local part). `%40` catches emails in encoded URLs.
const EMAIL =
  /\\(?:u[0-9a-fA-F]{4}|[\s\S])|([A-Za-z0-9._%+-]+)(@|%40)((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})/g;

// What a value already looks like once scrubbed: left alone, so scrubbing twice changes nothing.
const FAKE_EMAIL = /^user-[0-9a-f]{8}$/;
const FAKE_NAME = /^Person [0-9a-f]{6}$/;
const FAKE_FINGERPRINT = /^fp_[0-9a-f]{16}$/;
const FAKE_PHONE = /^\+15550000\d{4}$/;

const NAME_KEYS = new Set([
  "name",
  "first_name",
  "last_name",
  "full_name",
  "user_name",
  "customer_name",
]);
const PHONE_KEYS = new Set(["phone", "phone_number"]);

function digest(salt: string, value: string): string {
  return createHash("sha256")
    .update(salt + value)
    .digest("hex");
}

/** The fake for one email, keeping the `@` as it was written (`@` or `%40`). */
function fakeEmail(local: string, at: string, domain: string, salt: string): string {
  if (FAKE_EMAIL.test(local) && domain === "example.com") return `${local}${at}${domain}`;
  const email = at === "@" ? `${local}@${domain}` : decodeURIComponent(`${local}@${domain}`);
  return `user-${digest(salt, email).slice(0, 8)}${at}example.com`;
}

function replaceEmails(raw: string, salt: string): string {
  return raw.replace(EMAIL, (match, local?: string, at?: string, domain?: string) =>
    local === undefined || at === undefined || domain === undefined
      ? match
      : fakeEmail(local, at, domain, salt),
  );
}

/** The fake for a string value under a key whose values are personal data, or undefined. */
function fakeValue(key: string, value: string, salt: string): string | undefined {
  if (value === "") return undefined;
  const hash = digest(salt, value);
  if (NAME_KEYS.has(key)) return FAKE_NAME.test(value) ? value : `Person ${hash.slice(0, 6)}`;
  if (key === "fingerprint")
    return FAKE_FINGERPRINT.test(value) ? value : `fp_${hash.slice(0, 16)}`;
  if (PHONE_KEYS.has(key)) {
    if (FAKE_PHONE.test(value)) return value;
    const digits = String(Number.parseInt(hash.slice(0, 8), 16) % 10_000).padStart(4, "0");
    return `+15550000${digits}`;
  }
  // An `email` field whose value the email pattern misses (`ann@localhost`, say).
  if (key.endsWith("email") && value.includes("@") && replaceEmails(value, salt) === value) {
    return FAKE_EMAIL.test(value.split("@")[0] ?? "") && value.endsWith("@example.com")
      ? value
      : `user-${hash.slice(0, 8)}@example.com`;
  }
  return undefined;
}

function decode(token: string): string | undefined {
  try {
    return JSON.parse(token) as string;
  } catch {
    return undefined;
  }
}

/**
 * Replace personal data in raw JSON text with stable fakes, editing the text in place rather
 * than re-serialising it, so every other byte (spacing, key order, number formats) is what
 * the sender sent: emails anywhere → `user-<8 hex>@example.com`; string values of name keys
 * (`name`, `first_name`, `last_name`, `full_name`, `user_name`, `customer_name`) →
 * `Person <6 hex>`; `fingerprint` → `fp_<16 hex>`; `phone` / `phone_number` →
 * `+15550000<4 digits>`. Each fake comes from sha256(salt + original), so the same customer
 * gets the same fake in every fixture. Non-string values (null, numbers) are left alone, and
 * so are values that are already fakes, so scrubbing twice changes nothing. Text that is not
 * JSON still has its emails replaced.
 */
export function scrubText(text: string, salt = ""): string {
  let out = "";
  let last = 0;
  let key: string | undefined;
  for (const match of text.matchAll(STRING_TOKEN)) {
    const start = match.index;
    const token = match[0];
    const end = start + token.length;
    const between = text.slice(last, start);
    out += replaceEmails(between, salt);
    last = end;
    COLON.lastIndex = end;
    if (COLON.test(text)) {
      // A key: remember it for the value that follows.
      key = decode(token)?.toLowerCase();
      out += replaceEmails(token, salt);
      continue;
    }
    const isValue = key !== undefined && between.trim() === ":";
    const value = isValue ? decode(token) : undefined;
    const fake = key !== undefined && value !== undefined ? fakeValue(key, value, salt) : undefined;
    out += fake === undefined ? replaceEmails(token, salt) : JSON.stringify(fake);
    key = undefined;
  }
  return out + replaceEmails(text.slice(last), salt);
}
