import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { JsonLogger } from '@kiln/platform';

/**
 * The web console at `/`: the files `vite build` made (hashed assets cached for a year, the page itself never, so a
 * new release is picked up on the next load). Without a build, the API runs alone and says so in its log.
 */
export function serveConsole(app: NestExpressApplication, dir: string, logger: JsonLogger): void {
  if (!existsSync(join(dir, 'index.html'))) {
    logger.warn({ msg: 'no web console to serve (build it: npx vite build --config apps/console/vite.config.mts)', dir }, 'Console');
    return;
  }
  app.useStaticAssets(join(dir, 'assets'), { prefix: '/assets/', immutable: true, maxAge: '365d', index: false });
  app.useStaticAssets(dir, { index: 'index.html', maxAge: 0, setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache') });
}
