import { baseConfigSchema, port } from '@kiln/platform';
import { z } from 'zod';

export const gatewayConfigSchema = baseConfigSchema.extend({
  KILN_GATEWAY_PORT: port(8080),
  /** The admin API token; `scripts/kiln up` generates one and keeps it in the state folder when unset. */
  KILN_ADMIN_TOKEN: z.string({ required_error: 'set KILN_ADMIN_TOKEN (scripts/kiln up generates one)' }).min(16, 'must be at least 16 characters'),
});
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
