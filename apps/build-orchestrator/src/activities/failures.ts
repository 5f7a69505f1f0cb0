import { ApplicationFailure } from '@temporalio/common';

/** Failure classes the user must act on: never retried. */
export const USER_FAILURES = [
  'SourceAuthFailed',
  'RefNotFound',
  'RepositoryNotFound',
  'SourceUrlRefused',
  'DockerfileNotFound',
  'PathOutsideRepository',
  'BuildStepFailed',
  'BaseImageUnavailable',
  'RegistryAuthFailed',
] as const;
export type UserFailure = (typeof USER_FAILURES)[number];

/** A failure the user can fix: a stable type, the message, and what to do. */
export function userFailure(type: UserFailure, message: string, hint: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: [{ hint }] });
}

/** A transient fault: retried with backoff by Temporal. */
export function transientFailure(type: string, message: string, hint: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: false, details: [{ hint }] });
}
