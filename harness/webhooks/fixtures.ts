import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { PACKAGE_ROOT } from "../lifecycle/index.ts";

/** Where recorded payloads live: fixtures/webhooks/<provider>/<event type>.json. */
export const FIXTURES_DIR = path.join(PACKAGE_ROOT, "fixtures", "webhooks");

const cache = new Map<string, Promise<unknown>>();

/** The fixture names a provider has (file names without `.json`). */
export async function fixtureNames(provider: string): Promise<string[]> {
  const files = await readdir(path.join(FIXTURES_DIR, provider)).catch(() => [] as string[]);
  return files
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Load (once) a recorded payload template; errors list the fixtures that do exist. */
export function loadFixture(provider: string, name: string): Promise<unknown> {
  const file = path.join(FIXTURES_DIR, provider, `${name}.json`);
  let loaded = cache.get(file);
  if (!loaded) {
    loaded = (async () => {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch {
        const known = await fixtureNames(provider);
        throw new Error(
          `no fixture ${provider}/${name} (expected ${file}); ${provider} has: ${known.join(", ") || "none"}`,
        );
      }
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
      }
    })();
    cache.set(file, loaded);
    loaded.catch(() => cache.delete(file));
  }
  return loaded;
}
