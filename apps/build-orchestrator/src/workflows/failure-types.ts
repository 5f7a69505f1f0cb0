/**
 * Failure classes the user must act on: never retried. Dependency-free, so the workflow bundle and the
 * activities share one list.
 */
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
  'BuildArgMissing',
  'PlatformUnsupported',
] as const;
export type UserFailure = (typeof USER_FAILURES)[number];
