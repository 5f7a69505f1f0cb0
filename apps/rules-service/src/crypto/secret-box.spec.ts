import { randomBytes } from 'node:crypto';
import { SecretBox } from './secret-box';

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32).toString('base64'));

  it('opens what it sealed, and the sealed form does not contain the secret', () => {
    const sealed = box.seal('ghp_supersecret');
    expect(sealed).not.toContain('ghp_supersecret');
    expect(box.open(sealed)).toBe('ghp_supersecret');
  });

  it('seals the same secret differently each time', () => {
    expect(box.seal('x')).not.toBe(box.seal('x'));
  });

  it('refuses a tampered secret and a secret sealed with another key', () => {
    const sealed = box.seal('token');
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'))).toThrow();
    expect(() => new SecretBox(randomBytes(32).toString('base64')).open(sealed)).toThrow();
  });
});
