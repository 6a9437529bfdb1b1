import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Logger, ValidationPipe, type ValidationError } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { LogController } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { AppModule } from './app.module';
import { AppError } from './common/errors/app-error';
import { CorsPolicy } from './common/http/cors';
import { HotPathSlot } from './common/http/hot-path.slot';
import { PinoNestLogger, createRootLogger, requestIdFrom } from './common/logging/logger';
import type { Env } from './config/env.schema';
import { addGatewayPaths } from './gateway/gateway.openapi';

function flattenValidation(
  errors: ValidationError[],
  parent = '',
): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  for (const e of errors) {
    const field = parent ? `${parent}.${e.property}` : e.property;
    for (const m of Object.values(e.constraints ?? {})) {
      out.push({ field, message: m });
    }
    if (e.children?.length) {
      out.push(...flattenValidation(e.children, field));
    }
  }
  return out;
}

/** Creates the Nest app on Fastify with the gateway's logger, body limit and request ids. */
export async function createApp(env: Env, logger?: PinoLogger): Promise<NestFastifyApplication> {
  const root = logger ?? createRootLogger(env.LOG_LEVEL);
  // The client API's hot path is answered at the node:http level (HotPath); the rest goes to Fastify.
  const hotPath = new HotPathSlot();
  const adapter = new FastifyAdapter({
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
      createServer((req, res) => {
        if (!hotPath.dispatch(req, res)) {
          handler(req, res);
        }
      }),
    loggerInstance: root,
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'requestId',
    }),
    bodyLimit: env.MAX_BODY_SIZE_MB * 1024 * 1024,
    genReqId: (req: IncomingMessage) => requestIdFrom(req.headers['x-request-id']),
    trustProxy: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(env, hotPath),
    adapter,
    {
      logger: new PinoNestLogger(root),
      bufferLogs: false,
    },
  );
  configureApp(app, env);
  return app;
}

/** Everything main.ts and the tests share: pipes, hooks, CORS, Swagger. Call before init(). */
export function configureApp(app: NestFastifyApplication, env: Env): void {
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      transform: true,
      exceptionFactory: (errors) =>
        new AppError('VALIDATION_FAILED', 'INVALID_INPUT', 'Invalid request', {
          fields: flattenValidation(errors),
        }),
    }),
  );
  const fastify = app.getHttpAdapter().getInstance();
  // JSON bodies: Fastify's safe parser (prototype-poisoning checks), built once, and an empty body
  // (a DELETE sent with a JSON content type) read as no body rather than a 400.
  const jsonParser = fastify.getDefaultJsonParser('error', 'error');
  app.useBodyParser(
    'application/json',
    { bodyLimit: env.MAX_BODY_SIZE_MB * 1024 * 1024 },
    (req, body, done) => {
      if (body.length === 0) {
        done(null, undefined);
        return;
      }
      void jsonParser(req as never, body as never, done);
    },
  );
  const cors = new CorsPolicy(env.CORS_ALLOWED_ORIGINS);
  const log = new Logger('HTTP');
  fastify.addHook('onRequest', (req, reply, done) => {
    void reply.header('x-request-id', req.id).header('x-content-type-options', 'nosniff');
    const corsHeaders = cors.headersFor(req.headers.origin);
    if (corsHeaders) {
      void reply.headers(corsHeaders);
      if (req.method === 'OPTIONS') {
        void reply.code(204).send();
        return;
      }
    }
    done();
  });
  fastify.addHook('onResponse', (req, reply, done) => {
    if (reply.statusCode >= 500) {
      log.warn({
        msg: `${req.method} ${req.routeOptions?.url ?? '(no route)'} → ${reply.statusCode}`,
        requestId: String(req.id),
        status: reply.statusCode,
      });
    }
    done();
  });
  if (env.SWAGGER_ENABLED) {
    const config = new DocumentBuilder()
      .setTitle('omniroute-gateway')
      .setDescription(
        'Self-hosted AI gateway (OmniRoute-compatible API). Client API: `/v1/*` with an API key. ' +
          'Management API: `/api/*` with the dashboard cookie or an admin-scope API key.',
      )
      .setVersion('0.1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key (sk-…)' }, 'api-key')
      .addCookieAuth('auth_token', { type: 'apiKey', in: 'cookie', name: 'auth_token' }, 'session')
      .build();
    const document = SwaggerModule.createDocument(app, config);
    addGatewayPaths(document);
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  }
}
