import { z } from 'zod';
import { body, byId, defineRpc, noArgs } from './define';
import type { Page } from './define';

/** A registry builds push to or pull from, with its credentials (the password is write-only). */
export interface RegistryInput {
  name?: string;
  /** `host` or `host:port`, as in image names (`ghcr.io`, `registry.example.com:5000`). */
  host: string;
  username: string;
  password: string;
  /** Plain HTTP (a registry on a private address); default false. */
  insecure?: boolean;
}
export interface RegistryView {
  id: string;
  name: string;
  host: string;
  username: string;
  insecure: boolean;
  createdAt: string;
  updatedAt: string;
}
/** What the worker gets for a build: never shown by the API. */
export interface RegistryCredentials {
  id: string;
  host: string;
  username: string;
  password: string;
  insecure: boolean;
}
export const registriesCreate = defineRpc('rules.registries.create.v1', body<RegistryInput>()).returns<RegistryView>();
export const registriesList = defineRpc('rules.registries.list.v1', noArgs).returns<Page<RegistryView>>();
export const registriesGet = defineRpc('rules.registries.get.v1', byId).returns<RegistryView>();
export const registriesUpdate = defineRpc('rules.registries.update.v1', byId.extend({ patch: body<Partial<RegistryInput>>() })).returns<RegistryView>();
export const registriesDelete = defineRpc('rules.registries.delete.v1', byId).returns<{ deleted: true }>();
/** The credentials of the registries a build may use, for the worker running it (never for the API). */
export const registriesCredentials = defineRpc('rules.registries.credentials.v1', z.object({ ids: z.array(z.string()) })).returns<RegistryCredentials[]>();
