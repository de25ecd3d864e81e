import { defineConfig } from 'vitest/config';

// Tests run from source: workspace packages resolve through their "@sluice/source" export condition.
const conditions = ['@sluice/source', 'import', 'node', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@sluice/source'] } },
  test: {
    // CI also writes a JSON report, from which .ci/run prints a plain "N passed, N failed" closing line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'tools/*/test/**/*.test.ts', 'benchmarks/test/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: [
            'packages/*/test/**/*.integration.test.ts',
            'tools/*/test/**/*.integration.test.ts',
            'examples/test/**/*.integration.test.ts',
          ],
          // One broker (or cluster) per run, started here; files run one at a time on a 2-core machine.
          globalSetup: ['tools/kafka/src/vitest-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
