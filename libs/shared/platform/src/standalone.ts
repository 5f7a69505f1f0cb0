// The part of the platform a process uses without a Nest application (the end-to-end tests, benchmarks, tools):
// NATS settings and the event bus, the JSON logger, free ports. Importing it loads neither Nest's core nor TypeORM
// nor Swagger, which `@kiln/platform` brings along: a test file that imported them all took about 0.5 s more CPU.
export * from './config';
export * from './logger';
export * from './events';
export * from './ports';
