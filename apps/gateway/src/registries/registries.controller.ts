import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { registriesCreate, registriesDelete, registriesGet, registriesList, registriesUpdate, RegistryInput } from '@kiln/contracts';
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
  create(@Req() req: AuthedRequest, @Body() body: RegistryInput) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(registriesCreate, obj(body));
  }

  @Get()
  list(@Req() req: AuthedRequest) {
    authorize(req.token, null, 'read');
    return this.rpc.call(registriesList, {});
  }

  @Get(':id')
  get(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, null, 'read');
    return this.rpc.call(registriesGet, { id });
  }

  @Patch(':id')
  update(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: Partial<RegistryInput>) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(registriesUpdate, { id, patch: obj(body) });
  }

  @Delete(':id')
  delete(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, null, 'admin');
    return this.rpc.call(registriesDelete, { id });
  }
}
