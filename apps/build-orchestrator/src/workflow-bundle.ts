import { bundleWorkflowCode } from '@temporalio/worker';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/**
 * The workflow code, bundled once when Kiln is built (Temporal's advice for production workers): a worker then starts
 * without running webpack, about 2 CPU-seconds saved at every start. Beside the bundle lies the hash of what it was
 * made from (the compiled workflow sources and the workflow SDK's version); a worker whose sources differ (compiled
 * again without bundling again) bundles at start instead, as it always did.
 *   node dist/apps/build-orchestrator/src/workflow-bundle.js    writes the bundle (scripts/kiln build, Dockerfile)
 */
export interface WorkflowFiles {
  /** The compiled workflow sources (index.js and what it imports). */
  workflowsDir: string;
  bundlePath: string;
}

export const COMPILED: WorkflowFiles = { workflowsDir: join(__dirname, 'workflows'), bundlePath: join(__dirname, '..', 'workflow-bundle.js') };

async function sourcesHash(files: WorkflowFiles): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await fs.readFile(require.resolve('@temporalio/workflow/package.json'))).update('\0');
  for (const file of (await fs.readdir(files.workflowsDir)).filter((f) => f.endsWith('.js')).sort()) {
    hash
      .update(`${file}\0`)
      .update(await fs.readFile(join(files.workflowsDir, file)))
      .update('\0');
  }
  return hash.digest('hex');
}

export async function writeWorkflowBundle(files: WorkflowFiles = COMPILED): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve(join(files.workflowsDir, 'index')) });
  await fs.writeFile(files.bundlePath, code);
  await fs.writeFile(`${files.bundlePath}.sha256`, await sourcesHash(files));
}

/** For `Worker.create`: the prebuilt bundle when it was made from these sources, else the sources to bundle now. */
export async function workflowCode(files: WorkflowFiles = COMPILED): Promise<{ workflowBundle: { codePath: string } } | { workflowsPath: string }> {
  const [made, now] = await Promise.all([fs.readFile(`${files.bundlePath}.sha256`, 'utf8').catch(() => null), sourcesHash(files)]);
  return made === now ? { workflowBundle: { codePath: files.bundlePath } } : { workflowsPath: require.resolve(join(files.workflowsDir, 'index')) };
}

if (require.main === module) {
  writeWorkflowBundle().catch((err: unknown) => {
    process.stderr.write(`bundling the workflow code failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
