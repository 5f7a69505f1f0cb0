import { ValidationError } from '@kiln/domain';
import { z } from 'zod';

/** Parse input with a zod schema; a failure is a ValidationError naming each bad field and why. */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown, prefix = ''): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ValidationError(
    parsed.error.issues.map((issue) => ({
      field: [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(body)',
      message: issue.message,
    })),
  );
}
