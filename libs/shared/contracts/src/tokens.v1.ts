import { PATH_COMPONENT_RE } from '@kiln/domain';
import { z } from 'zod';
import { instant } from './define';

// API tokens (the gateway's own resource: no RPC)
export const TOKEN_ROLES = ['read', 'write', 'admin'] as const;
export const createTokenSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    role: z.enum(TOKEN_ROLES).describe('read: see; write: also change rules and builds; admin: also sources, registries and tokens'),
    namespaces: z
      .array(z.string().refine((n) => n === '*' || PATH_COMPONENT_RE.test(n), 'must be a namespace name or *'))
      .min(1, 'name at least one namespace, or *')
      .describe('Image namespaces the token may act on; * for all'),
  })
  .strict();
export type CreateTokenRequest = z.input<typeof createTokenSchema>;
export const tokenViewSchema = z.object({ id: z.string().uuid(), name: z.string(), role: z.string(), namespaces: z.array(z.string()), createdAt: instant });
export type TokenView = z.infer<typeof tokenViewSchema>;
/** Only the create answer carries the token, once; Kiln keeps its hash. */
export const createdTokenViewSchema = tokenViewSchema.extend({ token: z.string() });
