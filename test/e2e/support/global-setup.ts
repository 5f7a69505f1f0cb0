import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { register } from 'tsconfig-paths';
import { compilerOptions } from '../../../tsconfig.base.json';

/**
 * Boots the stack the e2e files share, once per run (jest's globalSetup of the e2e project, which runs only when
 * e2e tests are selected). The files read its addresses from the file named by KILN_E2E_SHARED_STACK.
 */
export default async function globalSetup(): Promise<void> {
  // jest's moduleNameMapper does not apply to globalSetup: resolve the @kiln/* aliases as tsc does.
  register({ baseUrl: resolve(__dirname, '..', '..', '..'), paths: compilerOptions.paths, addMatchAll: false });
  const { describeStack, SHARED_STACK_ENV, startSharedStack } = await import('./stack');
  const stack = await startSharedStack();
  const file = join(tmpdir(), `kiln-e2e-shared-stack-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(describeStack(stack)));
  process.env[SHARED_STACK_ENV] = file;
  (globalThis as { kilnSharedStack?: { stop(): Promise<void> } }).kilnSharedStack = stack;
}
