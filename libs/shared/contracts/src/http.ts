import { z } from 'zod';

// What the REST API's requests and answers share: query parameters (strings on the wire) and the error body.

/** A whole-number query parameter (an empty parameter reads as absent: see `parseQuery`). */
export const queryInt = z.coerce.number({ invalid_type_error: 'must be a whole number' }).int('must be a whole number').optional();
/** A true/false query parameter. */
export const queryBool = z.enum(['true', 'false']).optional();
/** Cursor paging, as query parameters. */
export const pageParams = { cursor: z.string().optional().describe('nextCursor of the previous page'), limit: queryInt.describe('Items per page') };

/** Every error answer: the HTTP status, a stable code, a message, and the failing fields of a 400. */
export const errorBodySchema = z.object({
  status: z.number().int(),
  code: z.string().describe('Stable class: ValidationFailed, Unauthenticated, Forbidden, NotFound, Conflict, ...'),
  message: z.string(),
  fields: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
