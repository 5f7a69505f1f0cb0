import { ArgumentsHost, Catch, HttpException, HttpServer, RpcExceptionFilter } from '@nestjs/common';
import { ClientProxy, RpcException } from '@nestjs/microservices';
import { KilnError, KilnErrorBody } from '@kiln/domain';
import { RpcDef } from '@kiln/contracts';
import { Observable, firstValueFrom, throwError, timeout } from 'rxjs';
import { JsonLogger } from './logger';

export const NATS_CLIENT = Symbol('NATS_CLIENT');

/** Calls another service over NATS request/reply and turns its error body back into a KilnError. */
export async function callRpc<Req, Res>(client: ClientProxy, def: RpcDef<Req, Res>, request: Req, timeoutMs = 10_000): Promise<Res> {
  try {
    return await firstValueFrom(client.send<Res, Req>(def.pattern, request).pipe(timeout(timeoutMs)));
  } catch (err) {
    if (KilnError.isBody(err)) throw new KilnError(err.status, err.code, err.message, err.fields);
    if (err instanceof Error && err.name === 'TimeoutError') throw new KilnError(503, 'ServiceUnavailable', `no answer to ${def.pattern} within ${timeoutMs} ms; is the owning service running?`);
    const text = String((err as { message?: string })?.message ?? err);
    if (text.includes('no responders') || text.includes('Empty response')) throw new KilnError(503, 'ServiceUnavailable', `no service answers ${def.pattern} right now`);
    throw err;
  }
}

/**
 * One filter for both transports. HTTP: a KilnError becomes its status and body. NATS: a KilnError travels as
 * its body (callRpc turns it back into a KilnError). Anything else is a bug: logged, answered as a 500.
 */
@Catch()
export class KilnExceptionFilter implements RpcExceptionFilter<unknown> {
  constructor(
    private readonly logger: JsonLogger,
    private readonly http: HttpServer,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): Observable<never> {
    if (host.getType() === 'http') {
      this.replyHttp(exception, host);
      return undefined as never;
    }
    if (exception instanceof KilnError) return throwError(() => exception.toBody());
    if (exception instanceof RpcException) return throwError(() => exception.getError());
    this.logger.error(exception instanceof Error ? exception : { msg: String(exception) }, 'KilnExceptionFilter');
    return throwError(() => INTERNAL);
  }

  private replyHttp(exception: unknown, host: ArgumentsHost): void {
    const res: unknown = host.switchToHttp().getResponse();
    if (this.http.isHeadersSent(res)) return;
    const reply = (status: number, body: unknown) => this.http.reply(res, body, status);
    if (exception instanceof KilnError) {
      reply(exception.status, exception.toBody());
    } else if (exception instanceof HttpException) {
      const body = exception.getResponse();
      const message = typeof body === 'string' ? body : ((body as { message?: unknown }).message ?? exception.message);
      reply(exception.getStatus(), { status: exception.getStatus(), code: exception.name.replace(/Exception$/, ''), message: Array.isArray(message) ? message.join('; ') : String(message) });
    } else if (isClientError(exception)) {
      // body-parser and friends: 400 unreadable body, 413 too large, 415 unsupported type.
      reply(exception.status, { status: exception.status, code: exception.type ?? 'BadRequest', message: exception.message });
    } else {
      this.logger.error(exception instanceof Error ? exception : { msg: String(exception) }, 'KilnExceptionFilter');
      reply(500, INTERNAL);
    }
  }
}

/** The body of every 500 Kiln answers: the details go to the service log, not to the caller. */
export const INTERNAL: KilnErrorBody = { status: 500, code: 'InternalError', message: 'internal error; see the service log' };

function isClientError(e: unknown): e is { status: number; type?: string; message: string } {
  const status = (e as { status?: unknown })?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && typeof (e as { message?: unknown }).message === 'string';
}
