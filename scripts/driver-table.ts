#!/usr/bin/env -S npx tsx
/**
 * The driver table of docs/drivers.md, from real runs: for every test/drivers/<id>/driver.json
 * whose toolchain is installed, build it, run its broken variant through
 * test/drivers/cascade.scenario.ts on embedded Postgres, and print what faultline saw there (per SQLSTATE, in the proxy trace and
 * in the server log) beside the driver's protocol path and its tested version.
 * Usage: npx tsx scripts/driver-table.ts
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const driversDir = path.join(root, "test", "drivers");
const sh = promisify(execFile);

interface Driver {
  id: string;
  driver: string;
  language: string;
  protocolPath: string;
  version: string;
  requires: string;
  build?: string;
  broken: string;
}

interface ScenarioJson {
  sqlstates: Record<string, number>;
  serverSqlstates?: Record<string, number>;
}

const drivers: Driver[] = readdirSync(driversDir, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(path.join(driversDir, e.name, "driver.json")))
  .map((e) => JSON.parse(readFileSync(path.join(driversDir, e.name, "driver.json"), "utf8")))
  .sort((a, b) => a.id.localeCompare(b.id));

const inFolder = (driver: Driver, command: string) =>
  sh("sh", ["-c", command], { cwd: path.join(driversDir, driver.id), timeout: 300_000 });

const counts = (byState: Record<string, number>) =>
  ["42703", "25P02"].map((state) => `${byState[state] ?? 0} × ${state}`).join(", ");

async function row(driver: Driver): Promise<string[]> {
  const cells = (seen: string, version: string) => [
    driver.driver,
    driver.language,
    driver.protocolPath,
    seen,
    version,
  ];
  try {
    await inFolder(driver, driver.requires);
  } catch {
    return cells(`not run: \`${driver.requires}\` failed here`, "");
  }
  if (driver.build) await inFolder(driver, driver.build);
  const version = (await inFolder(driver, driver.version)).stdout.trim();
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-driver-table-"));
  try {
    const json = path.join(dir, "result.json");
    const service = `cd '${path.join(driversDir, driver.id)}' && ${driver.broken}`;
    const args = ["run", path.join(driversDir, "cascade.scenario.ts"), "--service", service];
    // Exit 1 is the expected verdict for the broken variant; only the JSON matters here.
    await sh(process.execPath, [path.join(root, "bin", "faultline.mjs"), ...args, "--json", json], {
      cwd: root,
    }).catch(() => {});
    if (!existsSync(json)) return cells("no result: the run did not finish", version);
    const s = (JSON.parse(readFileSync(json, "utf8")) as { scenarios: ScenarioJson[] })
      .scenarios[0] as ScenarioJson;
    const serverLog = s.serverSqlstates ? counts(s.serverSqlstates) : "not read";
    return cells(`trace: ${counts(s.sqlstates)}; server log: ${serverLog}`, version);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// A small pool: each run starts Postgres and the service, so more than the cores only slows all.
const rows: string[][] = new Array(drivers.length);
let next = 0;
await Promise.all(
  Array.from({ length: Math.max(2, availableParallelism()) }, async () => {
    while (next < drivers.length) {
      const i = next++;
      rows[i] = await row(drivers[i] as Driver);
    }
  }),
);

const header = ["driver", "language", "protocol path", "what faultline sees (broken)", "tested"];
const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
console.log(line(header));
console.log(line(header.map(() => "---")));
for (const r of rows) console.log(line(r));
