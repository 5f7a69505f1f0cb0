import { z } from 'zod';
import { body, byId, defineRpc, deletedSchema, instant, noArgs, pageOf } from './define';

/** A registry host as image names carry it: a DNS name or IPv4 address, an optional port; no scheme, no path. */
const registryHost = z
  .string()
  .trim()
  .toLowerCase()
  .regex(
    /^(?=.{1,253}(:|$))[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/,
    'must be a registry host as in image names (ghcr.io, registry.example.com:5000), without scheme or path',
  )
  .describe('host or host:port, as in image names (ghcr.io, registry.example.com:5000)');

const registryFields = {
  name: z.string().trim().min(1).max(100),
  host: registryHost,
  username: z.string().min(1).max(255),
  password: z.string().min(1).max(8192).describe('Write-only: sealed at rest, never shown'),
  insecure: z.boolean().describe('Plain HTTP (a registry on a private address)'),
};
/** A registry builds push to or pull from, with its credentials (the password is write-only). */
export const registryInputSchema = z.object({ ...registryFields, name: registryFields.name.optional(), insecure: registryFields.insecure.default(false) }).strict();
export type RegistryInput = z.input<typeof registryInputSchema>;
export const registryPatchSchema = z.object(registryFields).partial().strict();

export const registryViewSchema = z.object({
  id: z.string().uuid(),
  name: z.string(),
  host: z.string(),
  username: z.string(),
  insecure: z.boolean(),
  createdAt: instant,
  updatedAt: instant,
});
export type RegistryView = z.infer<typeof registryViewSchema>;
/** What the worker gets for a build: never shown by the API. */
export interface RegistryCredentials {
  id: string;
  host: string;
  username: string;
  password: string;
  insecure: boolean;
}
export const registriesCreate = defineRpc('rules.registries.create.v1', body<RegistryInput>()).returns(registryViewSchema);
export const registriesList = defineRpc('rules.registries.list.v1', noArgs).returns(pageOf(registryViewSchema));
export const registriesGet = defineRpc('rules.registries.get.v1', byId).returns(registryViewSchema);
export const registriesUpdate = defineRpc('rules.registries.update.v1', byId.extend({ patch: body<Partial<RegistryInput>>() })).returns(registryViewSchema);
export const registriesDelete = defineRpc('rules.registries.delete.v1', byId).returns(deletedSchema);
/** The credentials of the registries a build may use, for the worker running it (never for the API). */
export const registriesCredentials = defineRpc('rules.registries.credentials.v1', z.object({ ids: z.array(z.string()) })).returns(z.custom<RegistryCredentials[]>());
