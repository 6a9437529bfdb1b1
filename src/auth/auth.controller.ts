import { Body, Controller, Get, HttpCode, Post, Put, Req, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth, Public } from '@/common/guards/public.decorator';
import { clientIp } from '@/common/http/client-ip';
import { readCookie } from '@/common/http/credentials';
import { Env } from '@/config/env.schema';
import { AUTH_COOKIE, AuthService, SESSION_TTL_SEC } from './auth.service';
import {
  AuthStatusResponse,
  LoginDto,
  RequireLoginDto,
  RequireLoginResponse,
  SuccessResponse,
} from './dto/login.dto';

@ApiTags('auth')
@Controller()
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly env: Env,
  ) {}

  private cookie(req: FastifyRequest, value: string, maxAge: number): string {
    const secure = this.env.AUTH_COOKIE_SECURE || req.headers['x-forwarded-proto'] === 'https';
    return `${AUTH_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
  }

  @Post('api/auth/login')
  @Public()
  @HttpCode(200)
  @ApiOperation({
    operationId: 'Auth_login',
    summary: 'Log in with the admin password; sets the auth_token cookie',
  })
  @ApiOkResponse({ type: SuccessResponse })
  @ApiUnauthorizedResponse({ type: ManagementErrorResponse, description: 'Invalid password' })
  @ApiTooManyRequestsResponse({
    type: ManagementErrorResponse,
    description: '5 failures in 15 min: locked for 15 min',
  })
  async login(
    @Body() dto: LoginDto,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SuccessResponse> {
    const token = await this.auth.login(dto.password, clientIp(req));
    reply.header('set-cookie', this.cookie(req, token, SESSION_TTL_SEC));
    return { success: true };
  }

  @Post('api/auth/logout')
  @Public()
  @HttpCode(200)
  @ApiOperation({ operationId: 'Auth_logout', summary: 'Clears the auth_token cookie' })
  @ApiOkResponse({ type: SuccessResponse })
  logout(
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): SuccessResponse {
    reply.header('set-cookie', this.cookie(req, '', 0));
    return { success: true };
  }

  @Get('api/auth/status')
  @Public()
  @ApiOperation({
    operationId: 'Auth_status',
    summary: 'Whether the request carries a valid session cookie',
  })
  @ApiOkResponse({ type: AuthStatusResponse })
  status(@Req() req: FastifyRequest): AuthStatusResponse {
    return { authenticated: this.auth.verifySession(readCookie(req.headers.cookie, AUTH_COOKIE)) };
  }

  @Get('api/settings/require-login')
  @Public()
  @ApiOperation({
    operationId: 'Settings_getRequireLogin',
    summary: 'Login requirement and setup state',
  })
  @ApiOkResponse({ type: RequireLoginResponse })
  async getRequireLogin(): Promise<RequireLoginResponse> {
    const major = Number(process.versions.node.split('.')[0]);
    return {
      ...(await this.auth.status()),
      nodeVersion: process.version,
      nodeCompatible: major >= 20,
    };
  }

  @Put('api/settings/require-login')
  @ManagementAuth()
  @ApiOperation({
    operationId: 'Settings_putRequireLogin',
    summary: 'Set requireLogin and/or the admin password',
  })
  @ApiOkResponse({ type: SuccessResponse })
  async putRequireLogin(@Body() dto: RequireLoginDto): Promise<SuccessResponse> {
    await this.auth.updateRequireLogin(dto);
    return { success: true };
  }

  @Post('api/settings/require-login')
  @HttpCode(200)
  @ManagementAuth()
  @ApiOperation({
    operationId: 'Settings_postRequireLogin',
    summary: 'Same as PUT (OmniRoute clients use POST)',
  })
  @ApiOkResponse({ type: SuccessResponse })
  postRequireLogin(@Body() dto: RequireLoginDto): Promise<SuccessResponse> {
    return this.putRequireLogin(dto);
  }
}
