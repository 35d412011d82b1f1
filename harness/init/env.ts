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
