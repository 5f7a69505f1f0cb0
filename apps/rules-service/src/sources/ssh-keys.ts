import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ValidationError } from '@kiln/domain';

const run = promisify(execFile);

/** In a private temporary directory that is always removed: key material never outlives the call on disk. */
async function inTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'kiln-ssh-'));
  try {
    await fs.chmod(dir, 0o700);
    return await body(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** A new ed25519 key pair (OpenSSH's own ssh-keygen), for the user to add as a deploy key. */
export function generateSshKey(comment: string): Promise<{ privateKey: string; publicKey: string }> {
  return inTempDir(async (dir) => {
    const file = join(dir, 'key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment.replace(/[^\w.@-]/g, '-').slice(0, 100), '-f', file]);
    return { privateKey: await fs.readFile(file, 'utf8'), publicKey: (await fs.readFile(`${file}.pub`, 'utf8')).trim() };
  });
}

/** The public half of a given private key; a key ssh-keygen cannot read is a 400 and nothing is saved. */
export function publicKeyOf(privateKey: string): Promise<string> {
  return inTempDir(async (dir) => {
    const file = join(dir, 'key');
    await fs.writeFile(file, privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`, { mode: 0o600 });
    try {
      const { stdout } = await run('ssh-keygen', ['-y', '-P', '', '-f', file]);
      return stdout.trim();
    } catch {
      throw new ValidationError([{ field: 'sshPrivateKey', message: 'is not a private key ssh can read (passphrase-protected keys are not supported)' }]);
    }
  });
}
