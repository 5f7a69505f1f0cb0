import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { workflowCode, writeWorkflowBundle, WorkflowFiles } from './workflow-bundle';

describe('the workflow bundle made at build time', () => {
  let dir: string;
  let files: WorkflowFiles;

  beforeEach(() => {
    // Inside the repository: the bundler resolves @temporalio/workflow from the workflow files' folder.
    mkdirSync(join(__dirname, '..', '..', '..', 'tmp'), { recursive: true });
    dir = mkdtempSync(join(__dirname, '..', '..', '..', 'tmp', 'kiln-bundle-'));
    files = { workflowsDir: join(dir, 'workflows'), bundlePath: join(dir, 'workflow-bundle.js') };
    mkdirSync(files.workflowsDir);
    writeFileSync(join(files.workflowsDir, 'index.js'), "exports.hello = async function hello() { return 'one'; };\n");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is used when it was made from the sources the worker has', async () => {
    await writeWorkflowBundle(files);
    expect(await workflowCode(files)).toEqual({ workflowBundle: { codePath: files.bundlePath } });
  }, 60_000);

  it('is not used once the sources changed after it was made (compiled again, not bundled again)', async () => {
    await writeWorkflowBundle(files);
    writeFileSync(join(files.workflowsDir, 'index.js'), "exports.hello = async function hello() { return 'two'; };\n");
    expect(await workflowCode(files)).toEqual({ workflowsPath: join(files.workflowsDir, 'index.js') });
  }, 60_000);

  it('is not used when there is none', async () => {
    expect(await workflowCode(files)).toEqual({ workflowsPath: join(files.workflowsDir, 'index.js') });
  });
});
