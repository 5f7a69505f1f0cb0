import { LoggerService } from '@nestjs/common';

type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogFields {
  msg?: string;
  eventId?: string;
  buildId?: string;
  [key: string]: unknown;
}

/**
 * One JSON object per line on stdout, carrying the service name and any ids the caller passes
 * (`logger.log({ msg: 'build started', buildId })`). Used as the Nest logger and directly.
 */
export class JsonLogger implements LoggerService {
  constructor(
    private readonly service: string,
    private readonly minLevel: Level = 'info',
    private readonly out: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  private write(level: Level, message: unknown, rest: unknown[]): void {
    if (ORDER[level] < ORDER[this.minLevel]) return;
    // Nest passes (message, context) or (message, stack, context).
    const context = typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    const stack = rest.length > 1 && typeof rest[0] === 'string' ? rest[0] : undefined;
    const fields: LogFields =
      message instanceof Error
        ? { msg: message.message, err: message.name, stack: message.stack }
        : typeof message === 'object' && message !== null
          ? (message as LogFields)
          : { msg: String(message) };
    this.out(JSON.stringify({ time: new Date().toISOString(), level, service: this.service, ...(context ? { context } : {}), ...fields, ...(stack ? { stack } : {}) }));
  }
}
