import { Controller, Get, HttpCode, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { logSearchParamsSchema, logsRetentionRun, logsSearch } from '@kiln/contracts';
import { Endpoint, QueryPipe } from '@kiln/platform';
import type { z } from 'zod';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize } from '../auth/authorize';
import { Rpc } from '../common/rpc.service';

@ApiTags('logs')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1')
export class LogsApiController {
  constructor(private readonly rpc: Rpc) {}

  /** Lines containing `contains` across the builds of a rule (`ruleId`) or an image repository (`repository`), newest first. */
  @Get('logs/search')
  @Endpoint({ summary: 'Log lines containing a text across builds, newest first', query: logSearchParamsSchema, response: logsSearch.response })
  search(@Req() req: AuthedRequest, @Query(new QueryPipe(logSearchParamsSchema)) q: z.output<typeof logSearchParamsSchema>) {
    authorize(req.token, null, 'read');
    return this.rpc.call(logsSearch, {
      contains: q.contains,
      ruleId: q.ruleId,
      imageRepository: q.repository ?? q.imageRepository,
      namespaces: req.token?.namespaces,
      since: q.since,
      until: q.until,
      cursor: q.cursor,
      limit: q.limit,
    });
  }

  /** Apply the retention policies now (the job also runs on its own schedule). */
  @Post('admin/retention/run')
  @HttpCode(200)
  @Endpoint({ summary: 'Apply the retention policies now (they also run on a schedule)', response: logsRetentionRun.response })
  runRetention(@Req() req: AuthedRequest) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(logsRetentionRun, {});
  }
}
