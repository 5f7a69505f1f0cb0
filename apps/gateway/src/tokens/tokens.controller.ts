import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AuthedRequest, AuthGuard } from '../auth/auth.guard';
import { authorize } from '../auth/authorize';
import { TokensService } from '../auth/tokens.service';
import { obj } from '../common/params';
import { createdTokenViewSchema, createTokenSchema, deletedSchema, pageOf, tokenViewSchema } from '@kiln/contracts';
import { Endpoint } from '@kiln/platform';

@ApiTags('tokens')
@ApiBearerAuth()
@UseGuards(AuthGuard)
@Controller('api/v1/tokens')
export class TokensApiController {
  constructor(private readonly tokens: TokensService) {}

  @Post()
  @HttpCode(201)
  @Endpoint({ summary: 'Create an API token (the answer carries it, once)', body: createTokenSchema, response: createdTokenViewSchema, status: 201 })
  create(@Req() req: AuthedRequest, @Body() body: unknown) {
    authorize(req.token, null, 'admin');
    return this.tokens.create(obj(body));
  }

  /** The calling token itself (its name, role and namespaces): what a client such as the console may show and do. */
  @Get('self')
  @Endpoint({ summary: 'The token this request carries', response: tokenViewSchema })
  self(@Req() req: AuthedRequest) {
    authorize(req.token, null, 'read');
    return this.tokens.view(req.token);
  }

  @Get()
  @Endpoint({ response: pageOf(tokenViewSchema) })
  list(@Req() req: AuthedRequest) {
    authorize(req.token, null, 'admin');
    return this.tokens.list();
  }

  @Delete(':id')
  @Endpoint({ response: deletedSchema, errors: [404, 409] })
  delete(@Req() req: AuthedRequest, @Param('id') id: string) {
    authorize(req.token, null, 'admin');
    return this.tokens.delete(id);
  }
}
