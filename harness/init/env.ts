import { evidenceAt, type Guess, type Repo, SOURCE_FILE } from "./repo.ts";

// process.env.X, process.env["X"], os.environ["X"], os.environ.get("X"), os.getenv("X"),
// ENV["X"], ENV.fetch("X"), os.Getenv("X"), Prisma's env("X"), and KEY= in .env examples.
const READS = [
  /process\.env\.([A-Z][A-Z0-9_]*)/g,
  // t3-style validated env objects: env.STRIPE_WEBHOOK_SECRET
  /(?<!process\.)\benv\.([A-Z][A-Z0-9_]*)\b/g,
  /process\.env\[\s*["'`]([A-Z][A-Z0-9_]*)["'`]\s*\]/g,
  /os\.environ(?:\.get)?[[(]\s*["']([A-Z][A-Z0-9_]*)["']/g,
  /os\.getenv\(\s*["']([A-Z][A-Z0-9_]*)["']/g,
  /ENV(?:\.fetch\(|\[)\s*["']([A-Z][A-Z0-9_]*)["']/g,
  /os\.Getenv\(\s*"([A-Z][A-Z0-9_]*)"/g,
  /\benv\(\s*"([A-Z][A-Z0-9_]*)"\s*\)/g,
  /^([A-Z][A-Z0-9_]*)=/gm,
];

const DOTENV = /(^|\/)\.env(?:\.[\w-]+)?$/;
const ENV_EXAMPLE = /(^|\/)\.env(?:\.[\w-]+)?$|\.prisma$/;
const POSTGRES_NEARBY =
  /postgres|\bpg\b|drizzle|prisma|sqlalchemy|psycopg|asyncpg|knex|sequelize|typeorm|database/i;

interface EnvNamed {
  databaseUrl: Guess<string>;
  webhookSecret: Guess<string>;
}

/**
 * Which environment variables the service reads its database URL and Stripe webhook secret
 * from. Defaults (DATABASE_URL, STRIPE_WEBHOOK_SECRET) come with no evidence.
 */
export function detectEnv(repo: Repo): EnvNamed {
  const database: Guess<string>[] = [];
  const secret: Guess<string>[] = [];
  for (const file of repo.files) {
    if (!SOURCE_FILE.test(file) && !ENV_EXAMPLE.test(file)) continue;
    const text = repo.read(file);
    if (text === undefined) continue;
    const postgresFile = POSTGRES_NEARBY.test(text);
    for (const pattern of READS) {
      for (const m of text.matchAll(pattern)) {
        const name = m[1] ?? "";
        const found = evidenceAt(file, text, m.index);
        // A .env file's values are secrets: cite the name only.
        const at = DOTENV.test(file) ? { ...found, text: `${name}=…` } : found;
        if (
          /^(?:DATABASE_URL|POSTGRES_URL|POSTGRES_PRISMA_URL|PG_URL|PGURL|DB_URL|[A-Z_]*DATABASE_URL|[A-Z_]*POSTGRES[A-Z_]*_URL)$/.test(
            name,
          )
        ) {
          // A file that also talks to Postgres is better evidence than a stray mention.
          database.push({ value: name, evidence: [at], ...(postgresFile ? {} : { weak: true }) });
        }
        if (
          /WEBHOOK_SECRET|SIGNING_SECRET|ENDPOINT_SECRET/.test(name) &&
          /STRIPE|^WEBHOOK|ENDPOINT/.test(name)
        )
          secret.push({ value: name, evidence: [at] });
      }
    }
  }
  return {
    databaseUrl: mostCited(database, "DATABASE_URL"),
    webhookSecret: mostCited(secret, "STRIPE_WEBHOOK_SECRET"),
  };
}

/** The name read most often (strong evidence first); its first sightings as evidence. */
function mostCited(found: (Guess<string> & { weak?: boolean })[], fallback: string): Guess<string> {
  const counts = new Map<string, { score: number; guess: Guess<string> }>();
  for (const g of found) {
    const entry = counts.get(g.value) ?? { score: 0, guess: { value: g.value, evidence: [] } };
    entry.score += g.weak ? 1 : 3;
    if (entry.guess.evidence.length < 2) entry.guess.evidence.push(...g.evidence);
    counts.set(g.value, entry);
  }
  let best: { score: number; guess: Guess<string> } | undefined;
  for (const entry of counts.values()) if (!best || entry.score > best.score) best = entry;
  return best?.guess ?? { value: fallback, evidence: [] };
}

/** A variable a sample env file lists, with the value faultline will set it to. */
export interface SampleVariable {
  name: string;
  value: string;
  /** Where the sample lists it. */
  at: { file: string; line: number };
  /** True when the sample gave no usable value and faultline made one up. */
  dummy: boolean;
}

const SAMPLE_ENV_FILES = [
  ".env.sample",
  ".env.example",
  ".env.template",
  ".env.dist",
  ".env.local.example",
  "example.env",
  "sample.env",
];

/** Set by faultline itself, never copied from a sample. */
const FAULTLINE_SETS = new Set(["PORT", "DATABASE_URL", "STRIPE_WEBHOOK_SECRET"]);

/**
 * Every variable the service's sample env file lists (the service folder's, else the
 * repository root's), so a service that refuses to start without one (a Stripe client with no
 * API key) starts. Values come from the sample; an empty or `<placeholder>` one gets a dummy.
 */
export function sampleVariables(repo: Repo, serviceDir: string, skip: string[]): SampleVariable[] {
  const dirs = serviceDir === "." ? ["."] : [serviceDir, "."];
  for (const dir of dirs) {
    for (const name of SAMPLE_ENV_FILES) {
      const file = dir === "." ? name : `${dir}/${name}`;
      const text = repo.read(file);
      if (text === undefined) continue;
      const found: SampleVariable[] = [];
      text.split("\n").forEach((raw, i) => {
        const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(raw);
        if (!m) return;
        const key = m[1] as string;
        if (FAULTLINE_SETS.has(key) || skip.includes(key)) return;
        let value = (m[2] as string).replace(/\s+#.*$/, "");
        value = value.replace(/^(["'])(.*)\1$/, "$2");
        const usable = value !== "" && !/[<>]|\$\{|\byour[-_ ]|\bchangeme\b|\bxxx+\b/i.test(value);
        found.push({
          name: key,
          value: usable ? value : dummyFor(key),
          at: { file, line: i + 1 },
          dummy: !usable,
        });
      });
      return found;
    }
  }
  return [];
}

/** A value of the right shape for what the name says it is. */
function dummyFor(name: string): string {
  if (/STRIPE.*(SECRET|API)_?KEY|STRIPE_KEY/.test(name)) return "sk_test_faultline_dummy";
  if (/PUBLISHABLE/.test(name)) return "pk_test_faultline_dummy";
  if (/_URL$|_URI$|ENDPOINT/.test(name)) return "http://127.0.0.1:9";
  if (/PORT$|TIMEOUT|_MS$|_SECONDS$|COUNT|SIZE|LIMIT|MAX|MIN/.test(name)) return "1";
  if (/^(ENABLE|DISABLE|USE)_|_ENABLED$|_DISABLED$/.test(name)) return "false";
  return "faultline-dummy";
}
