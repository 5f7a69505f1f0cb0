import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');

/**
 * The console: built into dist/apps/console, which the gateway serves at `/`. In development (`npx vite --config
 * apps/console/vite.config.mts`), Vite serves it and passes /api to a running gateway (KILN_GATEWAY_URL).
 */
export default defineConfig({
  root: here,
  plugins: [react()],
  resolve: { alias: { '@kiln/api-client': resolve(root, 'libs/api-client/src/index.ts') } },
  build: { outDir: resolve(root, 'dist/apps/console'), emptyOutDir: true, sourcemap: false, reportCompressedSize: true },
  server: { proxy: { '/api': process.env.KILN_GATEWAY_URL ?? 'http://127.0.0.1:8080' } },
});
