import { defineConfig } from "vitest/config";

// Unit tests run concurrently. Tests that own a Postgres server or drive the real CLI run in
// their own project, one file at a time, so they do not fight over the machine's two cores.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["harness/**/*.test.ts", "fixtures/**/*.test.ts"],
          exclude: ["**/*.pg.test.ts", "**/*.e2e.test.ts", "**/node_modules/**"],
        },
      },
      {
        test: {
          name: "postgres",
          include: [
            "harness/**/*.pg.test.ts",
            "fixtures/**/*.pg.test.ts",
            "examples/**/*.pg.test.ts",
            "test/**/*.e2e.test.ts",
          ],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
