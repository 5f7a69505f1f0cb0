import nx from '@nx/eslint-plugin';
import importX from 'eslint-plugin-import-x';

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/dist', '**/node_modules', 'tmp/**', '.nx/**'] },
  {
    files: ['**/*.ts'],
    rules: {
      // Apps depend on libs only, never on each other; libs point one way: platform -> contracts -> domain.
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:platform', 'type:contracts', 'type:domain', 'type:testing'] },
            // Fixtures of the hosts' documented deliveries, for specs and benchmarks; no app's production code imports them.
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: [] },
            // Generated from the gateway's OpenAPI document; for the console and any TypeScript caller of the API (and the e2e tests).
            { sourceTag: 'type:client', onlyDependOnLibsWithTags: [] },
            // The web console runs in the browser: it reaches Kiln through the generated API client only.
            { sourceTag: 'type:console', onlyDependOnLibsWithTags: ['type:client'] },
            { sourceTag: 'type:platform', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain'] },
            { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: ['type:domain'] },
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: [] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // No import cycles inside an app or lib (between projects, module boundaries above already forbid them). Relative
    // imports only: the libraries are acyclic by their tags.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver': { node: { extensions: ['.ts', '.js'] } }, 'import-x/extensions': ['.ts', '.js'] },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O, no clients.
    files: ['apps/build-orchestrator/src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'http', 'https', 'net'], message: 'Workflows must be deterministic: no Node built-ins.' },
            { group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', 'dockerode', 'nats', 'typeorm', '@kiln/platform'], message: 'Workflows do no I/O: call an activity.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.integration-spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
];
