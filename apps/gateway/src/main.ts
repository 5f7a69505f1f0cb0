import 'reflect-metadata';
import { SwaggerModule } from '@nestjs/swagger';
import { serviceMain } from '@kiln/platform';
import { gatewayConfigSchema } from './config';
import { GatewayAppModule } from './app.module';
import { apiDocument } from './openapi';
import { serveConsole } from './console';
import type { NestExpressApplication } from '@nestjs/platform-express';

serviceMain('gateway', gatewayConfigSchema, (config, logger) => ({
  module: GatewayAppModule.forConfig(config, logger),
  http: { host: config.KILN_HOST, port: config.KILN_GATEWAY_PORT },
  configure: (app) => {
    SwaggerModule.setup('api/docs', app, apiDocument(app), { jsonDocumentUrl: 'api/docs-json' });
    serveConsole(app as NestExpressApplication, config.KILN_CONSOLE_DIR, logger);
  },
}));
