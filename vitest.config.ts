import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Records suites skipped for a missing program and prints one summary line.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: external servers and browsers are heavy, keep parallelism modest.
    maxWorkers: 2,
  },
})
