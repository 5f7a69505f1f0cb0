import { Controller, Get, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { eventsGet, eventsList, eventsRedeliver } from '@kiln/contracts';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize } from '../auth/authorize';
import { Rpc } from '../common/rpc.service';
import { num } from '../common/params';

@ApiTags('events')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/events')
export class EventsApiController {
  constructor(private readonly rpc: Rpc) {}

  /** The ledger spans sources, which belong to no namespace: tokens for every namespace only. */
  @Get()
  list(@Req() req: AuthedRequest, @Query() q: Record<string, string>) {
    authorize(req.token, '*', 'read');
    return this.rpc.call(eventsList, { sourceId: q.sourceId, repository: q.repository, outcome: q.outcome, since: q.since, until: q.until, cursor: q.cursor, limit: num(q.limit, 'limit') });
  }

  @Get(':id')
  get(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, '*', 'read');
    return this.rpc.call(eventsGet, { id });
  }

  @Post(':id/redeliver')
  @HttpCode(200)
  redeliver(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, '*', 'write');
    return this.rpc.call(eventsRedeliver, { id });
  }
}
