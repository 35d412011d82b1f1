/**
 * Postgres's `log_line_prefix`, compiled into a regular expression that reads the prefix back
 * out of a stderr log line: every escape the documentation lists (runtime-config-logging),
 * padding (`%-10u`, `%5p`) and `%q` (the rest only for session processes) included.
 */

/** What a prefix can say about a line, by the escape that said it. */
export interface PrefixFields {
  at?: string;
  epoch?: string;
  pid?: string;
  session?: string;
  user?: string;
  database?: string;
  application?: string;
  sqlstate?: string;
  remote?: string;
}

const TIMESTAMP = String.raw`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d`;
const ZONE = String.raw`(?: ?(?:[A-Z][A-Za-z]{1,5}|[+-]\d\d(?::?\d\d)?|Z))?`;

// Each escape's text, and the field it fills (if any). Free text (%a, %u, %d, %i, %b, %r, %h)
// is lazy: the literal text after it in the prefix says where it ends.
const ESCAPES: Record<string, { pattern: string; field?: keyof PrefixFields }> = {
  a: { pattern: ".*?", field: "application" },
  u: { pattern: ".*?", field: "user" },
  d: { pattern: ".*?", field: "database" },
  r: { pattern: String.raw`\S*?`, field: "remote" },
  h: { pattern: String.raw`\S*?`, field: "remote" },
  b: { pattern: ".*?" },
  p: { pattern: String.raw`\d+`, field: "pid" },
  P: { pattern: String.raw`\d*` },
  t: { pattern: `${TIMESTAMP}${ZONE}`, field: "at" },
  m: { pattern: `${TIMESTAMP}\\.\\d{3}${ZONE}`, field: "at" },
  n: { pattern: String.raw`\d+\.\d+`, field: "epoch" },
  i: { pattern: ".*?" },
  e: { pattern: "[0-9A-Z]{5}", field: "sqlstate" },
  c: { pattern: String.raw`[0-9a-f]+\.[0-9a-f]+`, field: "session" },
  l: { pattern: String.raw`\d+` },
  s: { pattern: `${TIMESTAMP}${ZONE}` },
  v: { pattern: String.raw`(?:\d+/\d+|)` },
  x: { pattern: String.raw`\d+` },
  Q: { pattern: String.raw`-?\d+` },
};

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** A compiled prefix: `match` returns the fields and the rest of the line, or undefined. */
export interface CompiledPrefix {
  prefix: string;
  match(line: string): { fields: PrefixFields; rest: string } | undefined;
}

/** Thrown for a prefix with an escape Postgres does not have. */
export class PrefixError extends Error {}

export function compilePrefix(prefix: string): CompiledPrefix {
  const groups: (keyof PrefixFields)[] = [];
  // %q: what follows it is printed only by session processes, so it is optional as a whole.
  const [always, sessionOnly] = splitAtQ(prefix);
  const body = (part: string) => {
    let out = "";
    for (let i = 0; i < part.length; i++) {
      const char = part[i] as string;
      if (char !== "%") {
        out += escapeRegex(char);
        continue;
      }
      const rest = /^(-?\d+)?(.)/.exec(part.slice(i + 1));
      if (!rest)
        throw new PrefixError(`log_line_prefix ${JSON.stringify(prefix)} ends in a lone %`);
      i += rest[0].length;
      const letter = rest[2] as string;
      if (letter === "%") {
        out += "%";
        continue;
      }
      const known = ESCAPES[letter];
      if (!known)
        throw new PrefixError(
          `log_line_prefix ${JSON.stringify(prefix)}: %${letter} is no escape Postgres knows (${Object.keys(
            ESCAPES,
          )
            .map((k) => `%${k}`)
            .join(" ")} %q %%)`,
        );
      // Padding pads with spaces on either side.
      const padded = rest[1] ? ` *(?:${known.pattern}) *` : known.pattern;
      if (known.field) {
        groups.push(known.field);
        out += `(${padded})`;
      } else out += `(?:${padded})`;
    }
    return out;
  };
  const source = `^${body(always)}${sessionOnly === undefined ? "" : `(?:${body(sessionOnly)})?`}`;
  const regex = new RegExp(source);
  return {
    prefix,
    match(line) {
      const m = regex.exec(line);
      if (!m) return undefined;
      const fields: PrefixFields = {};
      groups.forEach((field, i) => {
        const value = m[i + 1]?.trim();
        if (value) fields[field] = value;
      });
      return { fields, rest: line.slice(m[0].length) };
    },
  };
}

function splitAtQ(prefix: string): [string, string | undefined] {
  for (let i = 0; i < prefix.length; i++) {
    if (prefix[i] !== "%") continue;
    if (prefix[i + 1] === "q") return [prefix.slice(0, i), prefix.slice(i + 2)];
    i++;
  }
  return [prefix, undefined];
}

/**
 * The prefixes production servers are known to write, tried in turn when `--log-line-prefix`
 * is not given. The one that reads the most lines wins; on a tie, the earlier.
 */
export const KNOWN_PREFIXES: { name: string; prefix: string }[] = [
  // Heroku's drain splits long records and numbers the parts: `[9-1]`, `[9-2]`.
  { name: "Heroku", prefix: "[%l-%l] sql_error_code = %e " },
  { name: "pgBadger's recommended", prefix: "%t [%p]: user=%u,db=%d,app=%a,client=%h " },
  {
    name: "pgBadger's recommended (with %l)",
    prefix: "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
  },
  { name: "Cloud SQL", prefix: "%m [%p]: [%l-1] db=%d,user=%u " },
  { name: "RDS", prefix: "%t:%r:%u@%d:[%p]:" },
  // Before Debian's: on a tie (no line with a user@database) the shorter one is what was written.
  { name: "Postgres's default", prefix: "%m [%p] " },
  { name: "Debian's default", prefix: "%m [%p] %q%u@%d " },
  { name: "timestamp only", prefix: "%m " },
];
