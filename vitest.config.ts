import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Tests start real worker threads and child processes; forks keep each file's threads apart.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Ink renders nothing until exit when it detects CI (CI=true in our CI); the dashboard tests
    // assert frames, and child CLIs inherit this. CI itself is still detected by the runner.
    env: { CI: 'false' },
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.{ts,tsx}'], exclude: ['test/timing/**'] } },
      // Assertions on wall-clock spacing measured at a server (rate limits) break when another test
      // file competes for the 2 cores; `npm test` runs these after the rest, one file at a time.
      { extends: true, test: { name: 'timing', include: ['test/timing/**/*.test.ts'], fileParallelism: false } },
    ],
  },
});
