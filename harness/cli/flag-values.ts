// Readers of flag values that several commands share, each failing as bad usage that names the
// flag and what it expected.
import { BadUsageError } from "../errors.ts";
import { UsageError } from "./flags.ts";

export function parseSeed(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > 2 ** 32 - 1)
    throw new BadUsageError(
      `--seed: expected a whole number from 0 to 4294967295, got ${JSON.stringify(value)}`,
    );
  return Number(value);
}

export function parseReadyTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new BadUsageError(
      `--ready-timeout: expected milliseconds (a whole number above 0), got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

export function parseConcurrency(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 64)
    throw new BadUsageError(
      `--concurrency: expected how many cells run at once, 1 to 64, got ${JSON.stringify(value)}`,
    );
  return Number(value);
}

/** `--cell schema=credits_balance missing` (repeatable): the matrix cells to run. */
export function parseCells(values: string[] | undefined): Record<string, string> | undefined {
  if (!values?.length) return undefined;
  const only: Record<string, string> = {};
  for (const value of values) {
    const match = /^(schema|delivery|faults)=(.+)$/.exec(value);
    if (!match)
      throw new BadUsageError(
        `--cell: expected axis=value with axis schema, delivery or faults (e.g. --cell "schema=credits_balance missing"), got ${JSON.stringify(value)}`,
      );
    only[match[1] as string] = match[2] as string;
  }
  return only;
}

export function parseHostPort(
  value: string,
  flag: string,
  defaultPort?: number,
): { host: string; port: number } {
  let host: string;
  let port: string | undefined;
  if (/^postgres(ql)?:\/\//.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new BadUsageError(`${flag}: not a valid URL: ${JSON.stringify(value)}`);
    }
    host = url.hostname.replace(/^\[|\]$/g, "");
    port = url.port || "5432";
  } else {
    const match = /^(.*?)(?::(\d+))?$/.exec(value);
    host = match?.[1] || "127.0.0.1";
    port = match?.[2] ?? (defaultPort === undefined ? undefined : String(defaultPort));
  }
  const portNumber = Number(port);
  if (!port || !Number.isInteger(portNumber) || portNumber < 0 || portNumber > 65535) {
    throw new BadUsageError(
      `${flag}: expected host:port or postgres://host:port, got ${JSON.stringify(value)}`,
    );
  }
  return { host, port: portNumber };
}

/** A flag the command cannot do without; its absence shows the global usage. */
export function required(value: string | boolean | undefined, flag: string, what = ""): string {
  if (typeof value !== "string" || value === "")
    throw new UsageError(`${flag} is required${what ? ` (${what})` : ""}`);
  return value;
}
