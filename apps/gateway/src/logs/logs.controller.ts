import { Controller, Get, HttpCode, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { logsRetentionRun, logsSearch } from '@kiln/contracts';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize } from '../auth/authorize';
import { Rpc } from '../common/rpc.service';
import { num } from '../common/params';

@ApiTags('logs')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1')
export class LogsApiController {
  constructor(private readonly rpc: Rpc) {}

  /** Lines containing `contains` across the builds of a rule (`ruleId`) or an image repository (`repository`), newest first. */
  @Get('logs/search')
  search(@Req() req: AuthedRequest, @Query() q: Record<string, string>) {
    authorize(req.token, null, 'read');
    return this.rpc.call(logsSearch, {
      contains: q.contains,
      ruleId: q.ruleId,
      imageRepository: q.repository ?? q.imageRepository,
      namespaces: req.token?.namespaces,
      since: q.since,
      until: q.until,
      cursor: q.cursor,
      limit: num(q.limit, 'limit'),
    });
  }

  /** Apply the retention policies now (the job also runs on its own schedule). */
  @Post('admin/retention/run')
  @HttpCode(200)
  runRetention(@Req() req: AuthedRequest) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(logsRetentionRun, {});
  }
}
