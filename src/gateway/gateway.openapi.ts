import type { OpenAPIObject } from '@nestjs/swagger';

const openAiError = {
  description: 'OpenAI-style error',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          error: {
            type: 'object',
            properties: {
              message: { type: 'string' },
              type: { type: 'string', example: 'invalid_request_error' },
              param: { type: 'string', nullable: true },
              code: { type: 'string', example: 'model_not_found' },
            },
          },
        },
      },
    },
  },
};

const security = [{ 'api-key': [] }];

/**
 * The hot-path routes are registered on Fastify directly (not Nest controllers), so their OpenAPI
 * entries are written here by hand and merged into the generated document.
 */
export function addGatewayPaths(doc: OpenAPIObject): void {
  doc.paths['/v1/chat/completions'] = {
    post: {
      operationId: 'Chat_completions',
      tags: ['client-api'],
      summary:
        'OpenAI Chat Completions (stream and non-stream). Aliases: /chat/completions, /v1/v1/chat/completions',
      description:
        '`model` is `<provider-or-node-prefix>/<model>` (or a bare model served by exactly one configured provider). ' +
        'Streams unless `stream:false` or `Accept: application/json`. The request body is forwarded untouched except `model`.',
      security,
      parameters: [
        {
          name: 'x-omniroute-connection',
          in: 'header',
          required: false,
          schema: { type: 'string', format: 'uuid' },
          description: 'Pin one provider connection',
        },
        { name: 'x-request-id', in: 'header', required: false, schema: { type: 'string' } },
      ],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['model', 'messages'],
              additionalProperties: true,
              properties: {
                model: { type: 'string', example: 'openai/gpt-4o-mini' },
                messages: {
                  type: 'array',
                  items: {
                    type: 'object',
                    additionalProperties: true,
                    properties: { role: { type: 'string' }, content: {} },
                  },
                },
                stream: { type: 'boolean' },
                temperature: { type: 'number' },
                max_tokens: { type: 'integer' },
                tools: { type: 'array', items: { type: 'object', additionalProperties: true } },
              },
            },
          },
        },
      },
      responses: {
        '200': {
          description:
            '`chat.completion` JSON, or `text/event-stream` of `chat.completion.chunk` events ending with `data: [DONE]`',
          content: {
            'application/json': { schema: { type: 'object', additionalProperties: true } },
            'text/event-stream': { schema: { type: 'string' } },
          },
        },
        '400': openAiError,
        '401': openAiError,
        '403': openAiError,
        '404': openAiError,
        '413': openAiError,
        '415': openAiError,
        '429': openAiError,
        '502': openAiError,
        '503': openAiError,
        '504': openAiError,
      },
    },
  };
  doc.paths['/v1/models'] = {
    get: {
      operationId: 'Models_list',
      tags: ['client-api'],
      summary: 'OpenAI model list of the configured providers. Alias: /models',
      security,
      responses: {
        '200': {
          description: 'OpenAI list',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  object: { type: 'string', example: 'list' },
                  data: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        id: { type: 'string' },
                        object: { type: 'string' },
                        owned_by: { type: 'string' },
                        type: { type: 'string' },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        '401': openAiError,
      },
    },
  };
}
