export * from './define';
export * from './push-received.v1';
export * from './builds.v1';
export * from './build-workflow';
export * from './rpc';
