import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { registriesCreate, registriesCredentials, registriesDelete, registriesGet, registriesList, registriesUpdate, RequestOf } from '@kiln/contracts';
import { RegistriesService } from './registries.service';

@Controller()
export class RegistriesController {
  constructor(private readonly registries: RegistriesService) {}

  @MessagePattern(registriesCreate.pattern)
  create(@Payload() req: RequestOf<typeof registriesCreate>) {
    return this.registries.create(req);
  }

  @MessagePattern(registriesList.pattern)
  list() {
    return this.registries.list();
  }

  @MessagePattern(registriesGet.pattern)
  get(@Payload() req: RequestOf<typeof registriesGet>) {
    return this.registries.get(req.id);
  }

  @MessagePattern(registriesUpdate.pattern)
  update(@Payload() req: RequestOf<typeof registriesUpdate>) {
    return this.registries.update(req.id, req.patch);
  }

  @MessagePattern(registriesDelete.pattern)
  delete(@Payload() req: RequestOf<typeof registriesDelete>) {
    return this.registries.delete(req.id);
  }

  @MessagePattern(registriesCredentials.pattern)
  credentials(@Payload() req: RequestOf<typeof registriesCredentials>) {
    return this.registries.credentials(Array.isArray(req?.ids) ? req.ids.map(String) : []);
  }
}
