/** A request body as an object (anything else reads as empty; the owning service names what is missing). */
export const obj = <T>(body: unknown): T => (typeof body === 'object' && body !== null ? body : {}) as T;
