import { ValidationError } from '@kiln/domain';
import { z } from 'zod';

/**
 * Parse input with a zod schema; a failure is a ValidationError naming each bad field and why (`whole` names a
 * problem of the input itself).
 */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown, prefix = '', whole = '(body)'): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ValidationError(
    parsed.error.issues.map((issue) => ({
      field: [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || whole,
      message: issue.message,
    })),
  );
}
