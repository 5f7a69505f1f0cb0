import { ValidationError } from '@kiln/domain';

/** A request body as an object (anything else reads as empty; the owning service names what is missing). */
export const obj = <T>(body: unknown): T => (typeof body === 'object' && body !== null ? body : {}) as T;

/** A whole number from a query parameter; absent or empty is undefined, anything else a 400. */
export function num(v: string | undefined, field: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw new ValidationError([{ field, message: 'must be a whole number' }]);
  return Number(v);
}
