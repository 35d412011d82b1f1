import { defineConfig } from "vitest/config";

// A team's own vitest config, with faultline's scenarios among its tests. Only the `ssr` line is
// about this repository: here "faultline" is the package's own TypeScript sources (its
// `faultline-source` export condition), where a team's project has the built package.
export default defineConfig({
  ssr: { resolve: { conditions: ["faultline-source"] } },
  test: {
    include: ["**/*.test.ts"],
    // The first scenario of a file starts Postgres (about a second); later ones take ~0.3 s.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
