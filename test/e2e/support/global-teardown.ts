import { rmSync } from 'node:fs';

/** Stops the shared stack's apps (jest's globalTeardown sees what globalSetup left on globalThis). */
export default async function globalTeardown(): Promise<void> {
  await (globalThis as { kilnSharedStack?: { stop(): Promise<void> } }).kilnSharedStack?.stop();
  const file = process.env.KILN_E2E_SHARED_STACK;
  if (file) rmSync(file, { force: true });
}
