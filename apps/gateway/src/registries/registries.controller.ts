import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { registriesCreate, registriesDelete, registriesGet, registriesList, registriesUpdate, registryInputSchema, registryPatchSchema } from '@kiln/contracts';
import { Endpoint } from '@kiln/platform';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize } from '../auth/authorize';
import { Rpc } from '../common/rpc.service';
import { obj } from '../common/params';

/**
 * Registries builds push to (a rule's `pushRegistryId`) or pull private base images from (`pullRegistryIds`), with
 * their credentials: the password is write-only, sealed at rest, and reaches only the worker running a build.
 */
@ApiTags('registries')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/registries')
export class RegistriesApiController {
  constructor(private readonly rpc: Rpc) {}

  @Post()
  @HttpCode(201)
  @Endpoint({ body: registryInputSchema, response: registriesCreate.response, status: 201 })
  create(@Req() req: AuthedRequest, @Body() body: unknown) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(registriesCreate, obj(body));
  }

  @Get()
  @Endpoint({ response: registriesList.response })
  list(@Req() req: AuthedRequest) {
    authorize(req.token, null, 'read');
    return this.rpc.call(registriesList, {});
  }

  @Get(':id')
  @Endpoint({ response: registriesGet.response, errors: [404] })
  get(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, null, 'read');
    return this.rpc.call(registriesGet, { id });
  }

  @Patch(':id')
  @Endpoint({ body: registryPatchSchema, response: registriesUpdate.response, errors: [404] })
  update(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: unknown) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(registriesUpdate, { id, patch: obj(body) });
  }

  @Delete(':id')
  @Endpoint({ summary: 'Delete a registry (refused while rules use it, naming them)', response: registriesDelete.response, errors: [404, 409] })
  delete(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(registriesDelete, { id });
  }
}
