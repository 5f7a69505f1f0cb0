import { join } from 'node:path';
import { baseConfigSchema, port } from '@kiln/platform';
import { z } from 'zod';

export const gatewayConfigSchema = baseConfigSchema.extend({
  KILN_GATEWAY_PORT: port(8080),
  /** The built web console (`vite build` of apps/console), served at `/`; default: next to this app in dist/. */
  KILN_CONSOLE_DIR: z.string().default(join(__dirname, '..', '..', 'console')),
  /** The admin API token; `scripts/kiln up` generates one and keeps it in the state folder when unset. */
  KILN_ADMIN_TOKEN: z.string({ required_error: 'set KILN_ADMIN_TOKEN (scripts/kiln up generates one)' }).min(16, 'must be at least 16 characters'),
});
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
