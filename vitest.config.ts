import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Checks (or, as root, installs) the nats-server the integration tests start.
    globalSetup: ['test/harness/global-setup.ts'],
    // Integration suites spawn fleets of processes: two files at a time suits a 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
