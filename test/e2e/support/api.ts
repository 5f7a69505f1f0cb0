import { apiContract } from './api-contract';

/** A small client for Kiln's REST API; every JSON answer is checked against the schema the API documents for it. */
export class Api {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | null,
  ) {}

  withToken(token: string | null): Api {
    return new Api(this.baseUrl, token);
  }

  /**
   * Every request on a connection of its own (`Connection: close`). Tests block their event loop with synchronous git
   * commands for seconds at a time; a kept-alive socket the gateway closed meanwhile (its idle timeout is 5 s) would
   * then be reused before the client has seen it close, and the request would fail with ECONNRESET.
   */
  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: {
        Connection: 'close',
        ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}),
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* plain text answer */
    }
    const problem = apiContract().problem(method, this.baseUrl + path, res.status, res.headers.get('content-type') ?? '', parsed);
    if (problem) throw new Error(`the API broke its contract: ${problem}`);
    return { status: res.status, body: parsed as T };
  }

  async ok<T = Record<string, unknown>>(method: string, path: string, body?: unknown, expected = [200, 201, 202]): Promise<T> {
    const res = await this.call<T>(method, path, body);
    if (!expected.includes(res.status)) throw new Error(`${method} ${path} → ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }
}
