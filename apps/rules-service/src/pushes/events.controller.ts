import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { eventsGet, eventsList, eventsRedeliver, RequestOf } from '@kiln/contracts';
import { Handles } from '@kiln/platform';
import { EventsService } from './events.service';

@Controller()
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Handles(eventsList)
  list(@Payload() q: RequestOf<typeof eventsList>) {
    return this.events.list(q);
  }

  @Handles(eventsGet)
  get(@Payload() q: RequestOf<typeof eventsGet>) {
    return this.events.get(q.id);
  }

  @Handles(eventsRedeliver)
  redeliver(@Payload() q: RequestOf<typeof eventsRedeliver>) {
    return this.events.redeliver(q.id);
  }
}
