import { timingSafeEqual } from 'node:crypto';

/** Compare two strings in constant time (for equal lengths; a length mismatch is refused at once). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
