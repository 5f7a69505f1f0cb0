import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize } from '../auth/authorize';
import { TokensService } from '../auth/tokens.service';
import { obj } from '../common/params';

@ApiTags('tokens')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/tokens')
export class TokensApiController {
  constructor(private readonly tokens: TokensService) {}

  @Post()
  @HttpCode(201)
  create(@Req() req: AuthedRequest, @Body() body: unknown) {
    authorize(req.token, null, 'admin');
    return this.tokens.create(obj(body));
  }

  @Get()
  list(@Req() req: AuthedRequest) {
    authorize(req.token, null, 'admin');
    return this.tokens.list();
  }

  @Delete(':id')
  delete(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, null, 'admin');
    return this.tokens.delete(id);
  }
}
