/**
 * faultline's configuration for the python-billing example: how to start the service, where
 * its dbmate migrations are, where Stripe posts, and where its scenarios live. Paths are
 * relative to this file.
 */
import { defineConfig } from "faultline";
import { findPython } from "./python.ts";

export default defineConfig({
  service: {
    // Run with `sh -c` in `cwd`. `--service 'BILLING_VARIANT=broken exec "${PYTHON:-python3}"
    // app.py'` runs the pre-hotfix variant with the same env and readiness check.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell expands it, not JavaScript
    command: 'exec "${PYTHON:-python3}" app.py',
    cwd: ".",
    env: ({ databaseUrl, port, webhookSecret }) => ({
      BILLING_DB_URL: databaseUrl,
      HTTP_PORT: String(port),
      STRIPE_SIGNING_SECRET: webhookSecret,
      // $PYTHON if set, else the first python3 that can import psycopg2 (see python.ts).
      PYTHON: findPython(),
    }),
    // No /healthz: the service is ready once GET / answers with a status below 500.
    ready: { path: "/" },
    readyTimeout: 20_000,
    // A fresh process per scenario: the broken variant leaves a pooled connection inside an
    // aborted transaction, which must not leak into the next scenario's verdict.
    restart: "perScenario",
  },
  database: { migrations: "./db/migrations", postgres: "embedded" },
  webhooks: { stripe: { path: "/hooks/stripe" } },
  scenarios: "./faultline",
});
