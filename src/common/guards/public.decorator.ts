import { SetMetadata, applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth } from '@nestjs/swagger';

export const IS_PUBLIC = 'omniroute:isPublic';

/** Opts a route out of the global default-deny management guard. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/**
 * Documents the management security schemes on a controller: the dashboard cookie or an
 * admin-scope API key (the guard is global, so this adds OpenAPI metadata only).
 */
export const ManagementAuth = (): ClassDecorator & MethodDecorator =>
  applyDecorators(ApiBearerAuth('api-key'), ApiCookieAuth('session'));
