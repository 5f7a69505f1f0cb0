import { Api } from './api';
import { GitFixture } from './git-fixture';
import type { Stack } from './stack';

export interface StackContext {
  stack: Stack;
  git: GitFixture;
  api: Api;
}

/**
 * The usual set-up of a describe block: a stack (the shared one, or one of its own), a git server on loopback and an
 * admin API client, made in beforeAll and stopped in afterAll. `use` receives them for the block's variables.
 */
export function onStack(start: () => Stack | Promise<Stack>, use: (context: StackContext) => void): void {
  let context: StackContext | undefined;
  beforeAll(async () => {
    const stack = await start();
    const git = await GitFixture.start();
    context = { stack, git, api: new Api(stack.gatewayUrl, stack.adminToken) };
    use(context);
  });
  afterAll(async () => {
    await context?.git.stop();
    await context?.stack.stop();
  });
}
