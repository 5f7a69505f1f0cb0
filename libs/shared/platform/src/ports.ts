import { createServer, type AddressInfo } from 'node:net';

/** A loopback port nothing listens on now (the kernel's pick): for an exporter or a test server of the process's own. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
