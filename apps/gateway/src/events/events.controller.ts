import { Controller, Get, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { eventsGet, eventsList, eventsListParamsSchema, eventsRedeliver } from '@kiln/contracts';
import { Endpoint, QueryPipe } from '@kiln/platform';
import type { z } from 'zod';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize } from '../auth/authorize';
import { Rpc } from '../common/rpc.service';

@ApiTags('events')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/events')
export class EventsApiController {
  constructor(private readonly rpc: Rpc) {}

  /** The ledger spans sources, which belong to no namespace: tokens for every namespace only. */
  @Get()
  @Endpoint({ summary: 'Webhook deliveries, newest first', query: eventsListParamsSchema, response: eventsList.response })
  list(@Req() req: AuthedRequest, @Query(new QueryPipe(eventsListParamsSchema)) q: z.output<typeof eventsListParamsSchema>) {
    authorize(req.token, '*', 'read');
    return this.rpc.call(eventsList, q);
  }

  @Get(':id')
  @Endpoint({ summary: 'A delivery with its decision per rule', response: eventsGet.response, errors: [404] })
  get(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, '*', 'read');
    return this.rpc.call(eventsGet, { id });
  }

  @Post(':id/redeliver')
  @HttpCode(200)
  @Endpoint({ summary: 'Evaluate a stored push again (a rule that already built it is not run twice)', response: eventsRedeliver.response, errors: [404, 409] })
  redeliver(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, '*', 'write');
    return this.rpc.call(eventsRedeliver, { id });
  }
}
