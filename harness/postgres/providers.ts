import { BadUsageError } from "../errors.ts";
import { containerPostgres, DEFAULT_POSTGRES_IMAGE } from "./container-provider.ts";
import { embeddedPostgres, embeddedPostgresOf } from "./embedded-provider.ts";
import { checkMajor, POSTGRES_MAJORS } from "./postgres-majors.ts";
import type { PostgresProvider } from "./provider.ts";
import { urlPostgres } from "./url-provider.ts";

/** The spec forms `resolvePostgresProvider` accepts, for usage text and errors. */
export const POSTGRES_SPEC_FORMS = [
  "embedded (the Postgres installed with faultline; the default)",
  `embedded:<major> (${Object.keys(POSTGRES_MAJORS).join(", ")}; fetched once into a cache)`,
  `container or container:<image> (testcontainers; default image ${DEFAULT_POSTGRES_IMAGE})`,
  "url:postgres://user:password@host:port/database (a server that already runs)",
];

/**
 * The Postgres provider a spec names: `embedded`, `embedded:16`, `container`,
 * `container:postgres:17-alpine`, `url:postgres://…`. A URL off this machine is refused
 * (UnsafeDatabaseError) unless `allowRemote`; anything else unknown is bad usage naming the
 * value, `where` it came from (a flag, a config field) and the accepted forms.
 */
export function resolvePostgresProvider(
  spec: string,
  options: { allowRemote?: boolean; where?: string } = {},
): PostgresProvider {
  const where = options.where ?? "--postgres";
  const bad = (why: string) =>
    new BadUsageError(
      `${where}: ${why} in ${JSON.stringify(spec)}; accepted:\n  ${POSTGRES_SPEC_FORMS.join("\n  ")}`,
    );
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? undefined : spec.slice(colon + 1);
  switch (kind) {
    case "embedded": {
      if (rest === undefined) return embeddedPostgres;
      if (!/^\d+$/.test(rest)) throw bad(`the major must be a number, got ${JSON.stringify(rest)}`);
      const major = Number(rest);
      checkMajor(major, where);
      return embeddedPostgresOf(major);
    }
    case "container":
      if (rest === undefined) return containerPostgres();
      if (!/^[\w][\w.\-/:@]*$/.test(rest))
        throw bad(`${JSON.stringify(rest)} is not an image reference`);
      return containerPostgres(rest);
    case "url":
      if (!rest) throw bad("the URL is missing");
      return urlPostgres(rest, { allowRemote: options.allowRemote, where });
    default:
      throw bad(`unknown Postgres provider ${JSON.stringify(kind)}`);
  }
}
