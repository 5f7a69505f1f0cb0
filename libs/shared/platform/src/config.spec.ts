import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseConfigSchema, checkTemporalTls, ConfigError, loadConfig, temporalConfigFields, temporalConnectionOptions } from './config';

// The same composition every app that talks to Temporal uses.
const schema = baseConfigSchema.extend(temporalConfigFields).superRefine(checkTemporalTls);

describe('Temporal connection settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-tls-'));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const ca = file('ca.pem', 'CA');
  const crt = file('client.pem', 'CERT');
  const key = file('client.key', 'KEY');

  it('connects in plain text to the dev server by default', () => {
    expect(temporalConnectionOptions(loadConfig(schema, {}))).toEqual({ address: '127.0.0.1:7233' });
  });

  it('reads the CA, the client certificate pair and the server name for mTLS', () => {
    const options = temporalConnectionOptions(
      loadConfig(schema, {
        KILN_TEMPORAL_ADDRESS: 'temporal.example.com:7233',
        KILN_TEMPORAL_TLS_CA_FILE: ca,
        KILN_TEMPORAL_TLS_CERT_FILE: crt,
        KILN_TEMPORAL_TLS_KEY_FILE: key,
        KILN_TEMPORAL_TLS_SERVER_NAME: 'frontend.temporal',
      }),
    );
    expect(options).toEqual({
      address: 'temporal.example.com:7233',
      tls: { serverNameOverride: 'frontend.temporal', serverRootCACertificate: Buffer.from('CA'), clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') } },
    });
  });

  it('sends an API key over TLS with the system CAs', () => {
    expect(temporalConnectionOptions(loadConfig(schema, { KILN_TEMPORAL_API_KEY: 'k1' }))).toEqual({ address: '127.0.0.1:7233', tls: {}, apiKey: 'k1' });
    expect(temporalConnectionOptions(loadConfig(schema, { KILN_TEMPORAL_TLS: 'true' }))).toEqual({ address: '127.0.0.1:7233', tls: {} });
  });

  it.each([
    ['a certificate without its key', { KILN_TEMPORAL_TLS_CERT_FILE: crt }, /KILN_TEMPORAL_TLS_CERT_FILE: mTLS needs both/],
    ['a key without its certificate', { KILN_TEMPORAL_TLS_KEY_FILE: key }, /KILN_TEMPORAL_TLS_CERT_FILE: mTLS needs both/],
    ['a CA file that does not exist', { KILN_TEMPORAL_TLS_CA_FILE: join(dir, 'missing.pem') }, /KILN_TEMPORAL_TLS_CA_FILE: KILN_TEMPORAL_TLS_CA_FILE: no such file/],
    ['an empty namespace', { KILN_TEMPORAL_NAMESPACE: '' }, /KILN_TEMPORAL_NAMESPACE/],
  ])('refuses %s at start-up, naming the setting', (_what, env, message) => {
    expect(() => loadConfig(schema, env)).toThrow(ConfigError);
    expect(() => loadConfig(schema, env)).toThrow(message);
  });
});
