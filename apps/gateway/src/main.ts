import 'reflect-metadata';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { JsonLogger, loadConfig, runMain, startService } from '@kiln/platform';
import { gatewayConfigSchema } from './config';
import { GatewayAppModule } from './app.module';

runMain('gateway', async () => {
  const config = loadConfig(gatewayConfigSchema);
  const logger = new JsonLogger('gateway', config.KILN_LOG_LEVEL);
  await startService({
    name: 'gateway',
    module: GatewayAppModule.forConfig(config, logger),
    logger,
    http: { host: config.KILN_HOST, port: config.KILN_GATEWAY_PORT },
    configure: (app) => {
      const doc = SwaggerModule.createDocument(app, new DocumentBuilder().setTitle('Kiln').setVersion('v1').addBearerAuth().build());
      SwaggerModule.setup('api/docs', app, doc, { jsonDocumentUrl: 'api/docs-json' });
    },
  });
});
