// The standalone part (usable without a Nest application), then what runs in one.
export * from './standalone';
export * from './rpc';
export * from './bytes-rpc';
export * from './health';
export * from './platform.module';
export * from './bootstrap';
export * from './validation';
export * from './git';
export * from './url-guard';
export * from './contract-pipe';
export * from './openapi';
export * from './metrics';
export * from './metrics.controller';
export * from './launcher';
