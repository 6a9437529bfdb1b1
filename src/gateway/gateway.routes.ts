import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { sendError } from '@/common/filters/all-exceptions.filter';
import { ApiKeyAuth } from '@/common/guards/api-key.auth';
import { MetricsService, statusClass } from '@/common/metrics/metrics.service';
import { ChatService } from './chat/chat.service';
import { ModelsService } from './models.service';

/** Client-API paths and their aliases (reference §1.1). */
export const CHAT_PATHS = ['/v1/chat/completions', '/chat/completions', '/v1/v1/chat/completions'];
export const MODELS_PATHS = ['/v1/models', '/models', '/v1/v1/models'];

/**
 * The hot path: `/v1/*` routes registered straight on Nest's Fastify instance from this injectable
 * provider (Nest's controller + interceptor chain costs measurable throughput here; see
 * DEVELOPERS.md). Authentication runs in an `onRequest` hook — before the body is read — calling
 * the same `KeysService` the management guard uses. Errors are rendered in the OpenAI dialect.
 */
@Injectable()
export class GatewayRoutes implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly auth: ApiKeyAuth,
    private readonly chat: ChatService,
    private readonly models: ModelsService,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    const onRequest = async (req: FastifyRequest): Promise<void> => {
      req.principal = await this.auth.authenticate(req);
    };
    const errorHandler = (error: unknown, req: FastifyRequest, reply: FastifyReply): void => {
      sendError(error, req, reply);
    };
    const common: Pick<RouteOptions, 'onRequest' | 'errorHandler'> = { onRequest, errorHandler };
    for (const url of CHAT_PATHS) {
      fastify.route({
        ...common,
        method: 'POST',
        url,
        handler: (req, reply) => this.chat.handle(req, reply),
      });
    }
    for (const url of MODELS_PATHS) {
      fastify.route({
        ...common,
        method: 'GET',
        url,
        handler: (req, reply) => {
          const labels = { surface: 'models', provider: 'none', status_class: statusClass(200) };
          this.metrics.requests.inc(labels);
          return reply.send(this.models.list(req.principal!));
        },
      });
    }
  }
}
