import { RE2JS } from 're2js';
import { ValidationError } from './errors';
import { parseRef } from './refs';

export type Trigger = { type: 'branch'; branch: string } | { type: 'tag' } | { type: 'anyBranch' } | { type: 'refRegex'; pattern: string };

export const TRIGGER_TYPES = ['branch', 'tag', 'anyBranch', 'refRegex'] as const;

export interface PushFacts {
  ref: string;
  deleted: boolean;
}

export interface TriggerDecision {
  matched: boolean;
  /** Why it did not match, in words a user understands. */
  reason?: string;
}

/** Compile a user pattern with RE2 semantics (linear time); throws ValidationError when RE2 cannot run it. */
export function compileRefPattern(pattern: string, field = 'trigger.pattern'): RE2JS {
  if (pattern.length === 0) throw new ValidationError([{ field, message: 'must not be empty' }]);
  if (pattern.length > 1024) throw new ValidationError([{ field, message: 'must be at most 1024 characters' }]);
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new ValidationError([{ field, message: `not a regular expression RE2 can run: ${detail}` }]);
  }
}

export function matchTrigger(trigger: Trigger, push: PushFacts): TriggerDecision {
  if (push.deleted) return { matched: false, reason: `${push.ref} was deleted; deletions never build` };
  const parsed = parseRef(push.ref);
  switch (trigger.type) {
    case 'branch':
      if (parsed.type !== 'branch') return { matched: false, reason: `${push.ref} is not a branch; the rule builds branch ${trigger.branch}` };
      return parsed.name === trigger.branch ? { matched: true } : { matched: false, reason: `branch ${parsed.name} is not ${trigger.branch}` };
    case 'tag':
      return parsed.type === 'tag' ? { matched: true } : { matched: false, reason: `${push.ref} is not a tag; the rule builds new tags` };
    case 'anyBranch':
      return parsed.type === 'branch' ? { matched: true } : { matched: false, reason: `${push.ref} is not a branch; the rule builds any branch` };
    case 'refRegex':
      return compileRefPattern(trigger.pattern).matcher(push.ref).find() ? { matched: true } : { matched: false, reason: `${push.ref} does not match ${trigger.pattern}` };
  }
}
