export {};
import { spawn, execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { startEnvironment, freePort } from "../../harness/postgres/index.ts";
const mode = process.argv[2] ?? "simple";
const env = await startEnvironment({});
const db = await env.databases.create("prof", []);
const s = env.server;
const pgenv = { ...process.env, PGHOST: s.host, PGPORT: String(s.port), PGUSER: (s as any).user ?? "postgres", PGPASSWORD: (s as any).password ?? "", PGDATABASE: db.name };
console.log(Object.keys(s));
execFileSync("pgbench", ["-i", "-s", "2", "-q"], { env: pgenv, stdio: "ignore" });
const rules = Array.from({ length: 20 }, (_, i) => i % 2 === 0
  ? { name: `n${i}`, match: { sql: `faultline_never_matches_${i}` }, fault: { type: "sqlError", sqlstate: "57014", message: "x" } }
  : { name: `r${i}`, match: { sqlRegex: `\\bfaultline_never_${i}_[0-9]+\\b` }, fault: { type: "sqlError", sqlstate: "57014", message: "x" } });
writeFileSync("/tmp/prof/rules.json", JSON.stringify({ rules }));
const port = await freePort();
const withRules = process.argv[3] !== "plain";
const args = ["--cpu-prof", "--cpu-prof-dir=/tmp/prof/out", "bin/faultline.mjs", "proxy", "--upstream", `postgres://${s.host}:${s.port}`, "--listen", `127.0.0.1:${port}`, ...(withRules ? ["--rules", "/tmp/prof/rules.json", "--trace", "/tmp/prof/trace.ndjson"] : [])];
const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((r) => child.stdout!.once("data", r));
const out = execFileSync("pgbench", ["-n", "-S", "-c", "8", "-j", "2", "-T", "6", "-M", mode], { env: { ...pgenv, PGHOST: "127.0.0.1", PGPORT: String(port) } }).toString();
console.log(out.split("\n").filter((l) => /tps|latency/.test(l)).join("\n"));
child.kill("SIGINT");
await new Promise((r) => child.once("exit", r));
await env.stop();
