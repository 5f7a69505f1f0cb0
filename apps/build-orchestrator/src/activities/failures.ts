import { ApplicationFailure } from '@temporalio/common';

import type { UserFailure } from '../workflows/failure-types';

/** A failure the user can fix: a stable type, the message, and what to do. */
export function userFailure(type: UserFailure, message: string, hint: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: [{ hint }] });
}

/** A transient fault: retried with backoff by Temporal. */
export function transientFailure(type: string, message: string, hint: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: false, details: [{ hint }] });
}
