import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { buildLogParamsSchema, buildsCancel, buildsListParamsSchema, buildsRebuild, buildsDelete, buildsGet, buildsList, logLineViewSchema, logsList, logsPage, LogsQuery } from '@kiln/contracts';
import { Endpoint, QueryPipe } from '@kiln/platform';
import { z } from 'zod';
import { KilnError } from '@kiln/domain';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize, namespaceOf } from '../auth/authorize';
import { Rpc } from '../common/rpc.service';
import type { ApiTokenEntity } from '../auth/api-token.entity';

type LogParams = z.output<typeof buildLogParamsSchema>;

/** What a log read asks log-service for: the build, the caller's namespaces (checked there), and the filters. */
function logFilters(buildId: string, q: LogParams, token: ApiTokenEntity | undefined): Omit<LogsQuery, 'cursor'> {
  return { buildId, namespaces: token?.namespaces, step: q.step, stream: q.stream, attempt: q.attempt, contains: q.contains };
}

const FOLLOW_POLL_MS = 250;
const FOLLOW_SETTLE_MS = 1000;
const FOLLOW_EVENTS = `follow=true: server-sent events; each \`line\` event (id: the line id) carries a line ${JSON.stringify(Object.keys(logLineViewSchema.shape))}, and a last \`status\` event carries {status, failure, tags, digest}`;

@ApiTags('builds')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/builds')
export class BuildsApiController {
  constructor(private readonly rpc: Rpc) {}

  @Get()
  @Endpoint({ summary: 'Builds, newest first, with filters', query: buildsListParamsSchema, response: buildsList.response })
  list(@Req() req: AuthedRequest, @Query(new QueryPipe(buildsListParamsSchema)) q: z.output<typeof buildsListParamsSchema>) {
    authorize(req.token, null, 'read');
    const { repository, imageRepository, ...filters } = q;
    return this.rpc.call(buildsList, { ...filters, imageRepository: repository ?? imageRepository, namespaces: req.token?.namespaces });
  }

  @Get(':id')
  @Endpoint({ summary: 'A build with its steps, instructions, tags, digest and failure', response: buildsGet.response, errors: [404] })
  async get(@Req() req: AuthedRequest, @Param('id') id: string) {
    return this.buildFor(req, id, 'read');
  }

  /**
   * The log: cursor pages (`cursor`, `limit`), `tail=N`, filters (`step`, `stream`, `attempt`, `contains`);
   * `format=text` downloads it whole as plain text; `follow=true` streams it as server-sent events while the build
   * runs, resumes after `Last-Event-ID` (a line id), and ends with the build's final status.
   */
  @Get(':id/logs')
  @Endpoint({
    summary: "A build's log: a page, the whole log as text, or a live stream",
    query: buildLogParamsSchema,
    response: { 'application/json': logsList.response, 'text/plain': z.string().describe('format=text'), 'text/event-stream': z.string().describe(FOLLOW_EVENTS) },
    errors: [404],
  })
  async logs(@Req() req: AuthedRequest, @Res() res: Response, @Param('id') buildId: string, @Query(new QueryPipe(buildLogParamsSchema)) q: LogParams) {
    // log-service checks the build's namespace against the token's in the same call (one round trip per page).
    authorize(req.token, null, 'read');
    const filters = logFilters(buildId, q, req.token);
    if (q.follow === 'true') {
      await this.buildFor(req, buildId, 'read');
      return this.follow(req, res, filters, (req.headers['last-event-id'] as string | undefined) ?? q.cursor);
    }
    if (q.format === 'text') {
      await this.rpc.call(logsList, { ...filters, limit: 1 }); // refused builds answer before the download starts
      res.status(200).type('text/plain; charset=utf-8').setHeader('Content-Disposition', `attachment; filename="build-${buildId}.log"`);
      let cursor: string | undefined;
      do {
        const page = await this.rpc.call(logsList, { ...filters, cursor, limit: 5000 });
        for (const l of page.items) res.write(`${l.time} ${l.step}#${l.attempt} ${l.stream}: ${l.text}\n`);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      res.end();
      return;
    }
    // log-service answers with the page's JSON, sent on as it is (no parse and serialize again here): a bytes RPC,
    // not Nest's. Measured with `scripts/kiln bench logs` (1M lines; goal: p50 <= 3x direct SQL): through Nest's RPC
    // the tail of 200 lines took 3.7-4.2x and a 500-line page 3.0-3.3x (2026-12-02); through the bytes RPC 2.7-2.9x
    // and 2.1-2.2x (2026-12-03). A listener ahead of Express for this route saved 0.1-0.3x more and was removed.
    const page = await this.rpc.bytes(logsPage, { ...filters, cursor: q.cursor, limit: q.limit, tail: q.tail });
    res
      .status(page.status)
      .type('application/json; charset=utf-8')
      .end(Buffer.from(page.body.buffer, page.body.byteOffset, page.body.byteLength));
  }

  private async follow(req: AuthedRequest, res: Response, filters: Omit<LogsQuery, 'cursor'>, from: string | undefined): Promise<void> {
    res.status(200).setHeader('Content-Type', 'text/event-stream');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    let closed = false;
    req.on('close', () => (closed = true));
    try {
      await this.followLoop(res, filters, from && /^\d+$/.test(from) ? from : undefined, () => closed);
    } finally {
      res.end();
    }
  }

  @Delete(':id')
  @Endpoint({ summary: 'Delete a finished build record and its log (a running one is a 409)', response: buildsDelete.response, errors: [404, 409] })
  async delete(@Req() req: AuthedRequest, @Param('id') id: string) {
    await this.buildFor(req, id, 'write');
    return this.rpc.call(buildsDelete, { id });
  }

  /** Stops a queued or running build; a finished one is a 409. */
  @Post(':id/cancel')
  @HttpCode(202)
  @Endpoint({ summary: 'Stop a queued or running build', response: buildsCancel.response, status: 202, errors: [404, 409] })
  async cancel(@Req() req: AuthedRequest, @Param('id') id: string) {
    const build = await this.buildFor(req, id, 'write');
    if (['succeeded', 'failed', 'cancelled'].includes(build.status)) throw new KilnError(409, 'Conflict', `build ${id} already ${build.status}`);
    return this.rpc.call(buildsCancel, { workflowId: build.workflowId });
  }

  /**
   * Runs a finished build again (a failed one after fixing its cause, say): a new build with the rule as it is now and
   * the same ref and commit, linked to this one (`rebuildOf`), with its own record, tags and workflow.
   */
  @Post(':id/rebuild')
  @HttpCode(202)
  @Endpoint({ summary: 'Run a finished build again as a new build', response: buildsRebuild.response, status: 202, errors: [404, 409] })
  async rebuild(@Req() req: AuthedRequest, @Param('id') id: string) {
    const build = await this.buildFor(req, id, 'write');
    if (!['succeeded', 'failed', 'cancelled'].includes(build.status)) throw new KilnError(409, 'Conflict', `build ${id} is ${build.status}; wait for it to finish (or cancel it) before rebuilding it`);
    if (build.ruleDeleted) throw new KilnError(409, 'Conflict', `build ${id} cannot be rebuilt: its rule was deleted; create a rule and use build now`);
    return this.rpc.call(buildsRebuild, { of: build.id, ruleId: build.ruleId, ref: build.ref, commit: build.commit, by: req.token?.name ?? 'unknown' });
  }

  private async buildFor(req: AuthedRequest, id: string, role: 'read' | 'write') {
    authorize(req.token, null, 'read');
    const build = await this.rpc.call(buildsGet, { id });
    authorize(req.token, namespaceOf(build.imageRepository), role);
    return build;
  }

  /** Pages new lines by id until the build is over and its log has gone quiet, then sends the final status. */
  private async followLoop(res: Response, filters: Omit<LogsQuery, 'cursor'>, from: string | undefined, closed: () => boolean): Promise<void> {
    let cursor = from;
    let terminalSince: number | null = null;
    let lastBeat = Date.now();
    while (!closed()) {
      const page = await this.rpc.call(logsList, { ...filters, cursor, limit: 1000 });
      for (const l of page.items) res.write(`id: ${l.id}\nevent: line\ndata: ${JSON.stringify(l)}\n\n`);
      if (page.items.length > 0) cursor = page.items[page.items.length - 1].id;
      if (page.nextCursor) continue;
      const build = await this.rpc.call(buildsGet, { id: filters.buildId });
      if (['succeeded', 'failed', 'cancelled'].includes(build.status)) {
        // Lines and status travel on separate streams: after the final status, wait for the log to go quiet.
        terminalSince ??= Date.now();
        if (page.items.length === 0 && Date.now() - terminalSince > FOLLOW_SETTLE_MS) {
          res.write(`event: status\ndata: ${JSON.stringify({ status: build.status, failure: build.failure, tags: build.tags, digest: build.digest })}\n\n`);
          return;
        }
      }
      if (Date.now() - lastBeat > 15_000) {
        res.write(': keep-alive\n\n');
        lastBeat = Date.now();
      }
      await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    }
  }
}
