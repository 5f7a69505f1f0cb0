import createClient from 'openapi-fetch';
import type { components, operations, paths } from './schema';

export type { components, operations, paths };

/**
 * A typed client of Kiln's REST API, its types generated at each build from the gateway's OpenAPI document
 * (`libs/api-client/openapi.json`, committed; `scripts/kiln api-client` prints it again after an API change): every
 * path, parameter, body and answer is typed from the contract schemas the gateway is documented with. `openapi-fetch`
 * does the requests.
 */
export function createKilnClient(options: { baseUrl: string; token?: string; fetch?: typeof fetch }) {
  const client = createClient<paths>({ baseUrl: options.baseUrl, fetch: options.fetch });
  const token = options.token;
  if (token) {
    client.use({
      onRequest({ request }) {
        request.headers.set('Authorization', `Bearer ${token}`);
        return request;
      },
    });
  }
  return client;
}

export type KilnClient = ReturnType<typeof createKilnClient>;
