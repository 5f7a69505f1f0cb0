// @ts-check
/** @typedef {import('jest').Config} Config */

// TypeScript to JavaScript with SWC, file by file, as tsconfig.base.json would emit it (legacy decorators with their
// metadata, which Nest's injection reads; class fields assigned, not defined). Types are checked by tsc in the
// build, not here. ts-jest transpiled the same way (isolatedModules), and TypeScript's transpiler took 8 s of the
// shared-stack jest process's CPU (profiled).
const swc = {
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

/** @returns {Config} */
const project = (name, root, testMatch) => ({
  displayName: name,
  rootDir: '.',
  roots: [`<rootDir>/${root}`],
  testMatch,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: {
    '^@kiln/domain$': '<rootDir>/libs/shared/domain/src/index.ts',
    '^@kiln/contracts$': '<rootDir>/libs/shared/contracts/src/index.ts',
    '^@kiln/platform$': '<rootDir>/libs/shared/platform/src/index.ts',
    '^@kiln/platform/standalone$': '<rootDir>/libs/shared/platform/src/standalone.ts',
    '^@kiln/platform/database$': '<rootDir>/libs/shared/platform/src/database.ts',
    '^@kiln/testing$': '<rootDir>/libs/testing/src/index.ts',
    '^@kiln/api-client$': '<rootDir>/libs/api-client/src/index.ts',
  },
});

const specs = ['**/*.spec.ts', '**/*.integration-spec.ts'];

/** @type {Config} */
module.exports = {
  testTimeout: 60_000,
  testSequencer: '<rootDir>/test/sequencer.js',
  projects: [
    project('shared-domain', 'libs/shared/domain', specs),
    project('shared-contracts', 'libs/shared/contracts', specs),
    project('shared-platform', 'libs/shared/platform', specs),
    project('gateway', 'apps/gateway', specs),
    project('webhook-ingest', 'apps/webhook-ingest', specs),
    project('rules-service', 'apps/rules-service', specs),
    project('build-orchestrator', 'apps/build-orchestrator', specs),
    project('log-service', 'apps/log-service', specs),
    // One stack for the e2e files in test/e2e, booted once. They run one after another (some count what the shared
    // stack has stored). The files in test/e2e/own-stack each start stacks of their own (apps configured otherwise,
    // stopped, killed): `scripts/kiln test` runs them beside the shared-stack files, in a second jest process.
    {
      ...project('e2e', 'test/e2e', ['**/test/e2e/*.e2e-spec.ts']),
      globalSetup: '<rootDir>/test/e2e/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/e2e/support/global-teardown.ts',
    },
    project('e2e-own-stack', 'test/e2e/own-stack', ['**/*.e2e-spec.ts']),
  ],
};
