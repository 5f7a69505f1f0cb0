export * from './errors';
export * from './refs';
export * from './trigger';
export * from './tag-rule';
export * from './repository-name';
export * from './ids';
export * from './providers';
export * from './redact';
