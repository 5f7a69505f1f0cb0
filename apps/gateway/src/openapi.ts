import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { apiSchemaComponents } from '@kiln/platform';

/** The REST API's OpenAPI document, from the controllers and the contract schemas they are decorated with. */
export function apiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Kiln')
    .setDescription('Build rules turn git pushes into container images. Every operation but /health and the OAuth callback needs `Authorization: Bearer <API token>`.')
    .setVersion('v1')
    .addBearerAuth()
    .build();
  const doc = SwaggerModule.createDocument(app, config, { operationIdFactory: (controller, method) => `${controller.replace(/(Api)?Controller$/, '')}_${method}` });
  doc.components = { ...doc.components, schemas: { ...doc.components?.schemas, ...apiSchemaComponents() } };
  return doc;
}
