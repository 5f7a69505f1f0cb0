import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { JsonLogger } from '@kiln/platform';
import { GatewayAppModule } from './app.module';
import { gatewayConfigSchema } from './config';
import { apiDocument } from './openapi';

/**
 * Prints the gateway's OpenAPI document without starting it: Nest's preview mode reads the modules and controllers
 * but makes no provider, so nothing connects to PostgreSQL or NATS. `scripts/kiln` generates the API client from it.
 */
async function main(): Promise<void> {
  const config = gatewayConfigSchema.parse({ KILN_ADMIN_TOKEN: 'x'.repeat(16), KILN_DATABASE_URL: 'postgres://unused/unused', KILN_NATS_URL: 'nats://unused:4222' });
  const logger = new JsonLogger('gateway', 'error');
  const app = await NestFactory.create(GatewayAppModule.forConfig(config, logger), { preview: true, logger: false, abortOnError: false });
  process.stdout.write(`${JSON.stringify(apiDocument(app), null, 2)}\n`);
  await app.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
