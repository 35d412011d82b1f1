/**
 * Test-only helpers for the proxy's tests: wire-byte builders, a raw socket client, a Postgres
 * for the pg tests, and the real Debian clients. Nothing in the harness imports this folder,
 * and the package leaves it out (tsconfig.build.json).
 */
export * from "./clients.ts";
export * from "./raw-client.ts";
export * from "./test-postgres.ts";
export * from "./wire.ts";
