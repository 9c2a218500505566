import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    // Integration tests start real servers (InfluxDB, PostgreSQL, snmpd, brokers); give them room.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: run files two at a time so server start-ups do not starve each other.
    maxWorkers: 2,
    globalSetup: ['tests/setup/global.ts'],
  },
});
