import 'reflect-metadata';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { serviceMain } from '@kiln/platform';
import { gatewayConfigSchema } from './config';
import { GatewayAppModule } from './app.module';

serviceMain('gateway', gatewayConfigSchema, (config, logger) => ({
  module: GatewayAppModule.forConfig(config, logger),
  http: { host: config.KILN_HOST, port: config.KILN_GATEWAY_PORT },
  configure: (app) => {
    const doc = SwaggerModule.createDocument(app, new DocumentBuilder().setTitle('Kiln').setVersion('v1').addBearerAuth().build());
    SwaggerModule.setup('api/docs', app, doc, { jsonDocumentUrl: 'api/docs-json' });
  },
}));
