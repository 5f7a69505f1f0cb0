import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { eventsGet, eventsList, eventsRedeliver, RequestOf } from '@kiln/contracts';
import { EventsService } from './events.service';

@Controller()
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @MessagePattern(eventsList.pattern)
  list(@Payload() q: RequestOf<typeof eventsList>) {
    return this.events.list(q ?? {});
  }

  @MessagePattern(eventsGet.pattern)
  get(@Payload() q: RequestOf<typeof eventsGet>) {
    return this.events.get(q.id);
  }

  @MessagePattern(eventsRedeliver.pattern)
  redeliver(@Payload() q: RequestOf<typeof eventsRedeliver>) {
    return this.events.redeliver(q.id);
  }
}
