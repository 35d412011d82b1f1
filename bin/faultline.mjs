#!/usr/bin/env node
// Scenarios are TypeScript files; tsx lets Node 20 import them (and the harness) directly.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../harness/cli.ts");
const code = await main(process.argv.slice(2));
// Exit explicitly: a service's stray handles must not keep the CLI alive after the verdict.
process.exit(code);
