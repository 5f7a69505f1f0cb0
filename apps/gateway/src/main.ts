import 'reflect-metadata';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { serviceMain } from '@kiln/platform';
import { gatewayConfigSchema } from './config';
import { GatewayAppModule } from './app.module';
import { serveLogPagesFirst } from './builds/log-pages';
import { Rpc } from './common/rpc.service';
import { TokensService } from './auth/tokens.service';

serviceMain('gateway', gatewayConfigSchema, (config, logger) => ({
  module: GatewayAppModule.forConfig(config, logger),
  http: { host: config.KILN_HOST, port: config.KILN_GATEWAY_PORT },
  configure: (app) => {
    const doc = SwaggerModule.createDocument(app, new DocumentBuilder().setTitle('Kiln').setVersion('v1').addBearerAuth().build());
    SwaggerModule.setup('api/docs', app, doc, { jsonDocumentUrl: 'api/docs-json' });
    serveLogPagesFirst(app.getHttpServer(), app.get(TokensService), app.get(Rpc), logger);
  },
}));
