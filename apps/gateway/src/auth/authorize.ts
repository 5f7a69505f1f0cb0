import { KilnError } from '@kiln/domain';
import type { ApiTokenEntity, Role } from './api-token.entity';

const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };

/** A token may act when its role is high enough and, for namespaced resources, the namespace is in its scope. */
export function authorize(token: ApiTokenEntity | undefined, namespace: string | null, role: Role): asserts token is ApiTokenEntity {
  if (!token) throw new KilnError(401, 'Unauthenticated', 'send Authorization: Bearer <token>');
  if (RANK[token.role] < RANK[role]) throw new KilnError(403, 'Forbidden', `this token's role is ${token.role}; this call needs ${role}`);
  if (namespace !== null && !token.namespaces.includes('*') && !token.namespaces.includes(namespace)) throw new KilnError(403, 'Forbidden', `this token may not use namespace ${namespace}`);
}

export const namespaceOf = (imageRepository: string): string => imageRepository.split('/')[0];
