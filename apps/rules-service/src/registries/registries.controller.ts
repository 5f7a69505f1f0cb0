import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { registriesCreate, registriesCredentials, registriesDelete, registriesGet, registriesList, registriesUpdate, RequestOf } from '@kiln/contracts';
import { Handles } from '@kiln/platform';
import { RegistriesService } from './registries.service';

@Controller()
export class RegistriesController {
  constructor(private readonly registries: RegistriesService) {}

  @Handles(registriesCreate)
  create(@Payload() req: RequestOf<typeof registriesCreate>) {
    return this.registries.create(req);
  }

  @Handles(registriesList)
  list() {
    return this.registries.list();
  }

  @Handles(registriesGet)
  get(@Payload() req: RequestOf<typeof registriesGet>) {
    return this.registries.get(req.id);
  }

  @Handles(registriesUpdate)
  update(@Payload() req: RequestOf<typeof registriesUpdate>) {
    return this.registries.update(req.id, req.patch);
  }

  @Handles(registriesDelete)
  delete(@Payload() req: RequestOf<typeof registriesDelete>) {
    return this.registries.delete(req.id);
  }

  @Handles(registriesCredentials)
  credentials(@Payload() req: RequestOf<typeof registriesCredentials>) {
    return this.registries.credentials(Array.isArray(req?.ids) ? req.ids.map(String) : []);
  }
}
