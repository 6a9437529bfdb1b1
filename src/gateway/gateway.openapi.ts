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

  const body = (description: string, required: string[], example: Record<string, unknown>) => ({
    required: true,
    content: {
      'application/json': {
        schema: { type: 'object', required, additionalProperties: true, description, example },
      },
    },
  });
  const answer = (description: string, streamType = 'text/event-stream') => ({
    description,
    content: {
      'application/json': { schema: { type: 'object', additionalProperties: true } },
      [streamType]: { schema: { type: 'string' } },
    },
  });
  const errors = (description: string) => {
    const e = { description };
    return { '400': e, '401': e, '403': e, '404': e, '413': e, '429': e, '502': e, '504': e };
  };
  const anthropicSecurity = [{ 'api-key': [] }];
  doc.paths['/v1/messages'] = {
    post: {
      operationId: 'Messages_create',
      tags: ['client-api'],
      summary: 'Anthropic Messages (stream and non-stream). Key as x-api-key or Bearer',
      description:
        "Any configured provider: same-dialect upstreams pass through, others are translated. Errors in Anthropic's shape.",
      security: anthropicSecurity,
      requestBody: body('Anthropic Messages request', ['model', 'max_tokens', 'messages'], {
        model: 'ant/claude-sonnet-4-5',
        max_tokens: 1024,
        messages: [{ role: 'user', content: 'Hello' }],
      }),
      responses: {
        '200': answer('`message` JSON or Anthropic SSE events'),
        ...errors('`{"type":"error","error":{type,message}}`'),
      },
    },
  };
  doc.paths['/v1/messages/count_tokens'] = {
    post: {
      operationId: 'Messages_countTokens',
      tags: ['client-api'],
      summary: 'Input tokens of a Messages request (asked of Anthropic upstreams, else estimated)',
      security: anthropicSecurity,
      requestBody: body('Anthropic Messages request', ['messages'], {
        model: 'ant/claude-sonnet-4-5',
        messages: [{ role: 'user', content: 'Hello' }],
      }),
      responses: {
        '200': { description: '`{input_tokens, source}`' },
        ...errors('Anthropic error shape'),
      },
    },
  };
  doc.paths['/v1/responses'] = {
    post: {
      operationId: 'Responses_create',
      tags: ['client-api'],
      summary:
        'OpenAI Responses (aliases /responses, /codex/responses). Stateless: no previous_response_id',
      security,
      requestBody: body('Responses request', ['model', 'input'], {
        model: 'openai/gpt-4o-mini',
        input: 'Hello',
      }),
      responses: {
        '200': answer('`response` JSON or named SSE events ending with response.completed'),
        ...errors('OpenAI error shape'),
      },
    },
  };
  doc.paths['/v1beta/models/{model}:generateContent'] = {
    post: {
      operationId: 'Gemini_generateContent',
      tags: ['client-api'],
      summary:
        'Gemini generateContent (also :streamGenerateContent?alt=sse, and under /api/v1beta). Key as x-goog-api-key or ?key=',
      security,
      parameters: [
        {
          name: 'model',
          in: 'path',
          required: true,
          schema: { type: 'string' },
          description: '<prefix>/<model>',
        },
      ],
      requestBody: body('GenerateContentRequest', ['contents'], {
        contents: [{ role: 'user', parts: [{ text: 'Hello' }] }],
      }),
      responses: {
        '200': answer('GenerateContentResponse JSON or SSE chunks'),
        ...errors('`{"error":{code,message,status}}`'),
      },
    },
  };
  doc.paths['/v1beta/models'] = {
    get: {
      operationId: 'Gemini_listModels',
      tags: ['client-api'],
      summary: "Model list in Gemini's shape (also /api/v1beta/models)",
      security,
      responses: {
        '200': { description: '`{models:[{name, supportedGenerationMethods, …}]}`' },
        '401': { description: 'Gemini error shape' },
      },
    },
  };
  doc.paths['/v1/api/chat'] = {
    post: {
      operationId: 'Ollama_chat',
      tags: ['client-api'],
      summary: 'Ollama chat (alias /api/chat); NDJSON stream unless stream:false',
      security,
      requestBody: body('Ollama chat request', ['model', 'messages'], {
        model: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hello' }],
      }),
      responses: {
        '200': answer('JSON or NDJSON lines ending with done:true', 'application/x-ndjson'),
        ...errors('`{"error": message}`'),
      },
    },
  };
  doc.paths['/api/tags'] = {
    get: {
      operationId: 'Ollama_tags',
      tags: ['client-api'],
      summary: "Model list in Ollama's shape",
      security,
      responses: {
        '200': { description: '`{models:[{name, model, …}]}`' },
        '401': { description: 'Ollama error shape' },
      },
    },
  };
  const list = (operationId: string, summary: string) => ({
    operationId,
    tags: ['client-api'],
    summary,
    security,
    responses: {
      '200': answer(
        '`{object:"list", data:[{id, object:"model", owned_by, type, …}]}`',
        'application/json',
      ),
      '401': openAiError,
    },
  });
  const mediaErrors = {
    ...errors('OpenAI-style error'),
    '415': { description: 'Wrong Content-Type' },
    '422': { description: 'The provider could not process the input' },
    '503': { description: 'Every account cooling down / circuit open' },
  };
  doc.paths['/v1/embeddings'] = {
    post: {
      operationId: 'Embeddings_create',
      tags: ['client-api'],
      summary:
        'Embeddings (OpenAI shape). Providers: OpenAI, Nebius, Mistral, Together, Fireworks, NVIDIA, embeddings nodes; combos and aliases work',
      description:
        "`input` is a string, an array of strings or token arrays; `encoding_format` float|base64 (base64 is encoded by the gateway when the provider only sends floats); `dimensions` is mapped to the provider's own field. Deterministic answers are served by the response cache.",
      security,
      requestBody: body('OpenAI embeddings request', ['model', 'input'], {
        model: 'openai/text-embedding-3-small',
        input: ['first text', 'second text'],
        encoding_format: 'float',
      }),
      responses: {
        '200': answer(
          '`{object:"list", data:[{object, index, embedding}], model, usage}`',
          'application/json',
        ),
        ...mediaErrors,
      },
    },
    get: list(
      'Embeddings_models',
      'The embedding models this key may use (`type:"embedding"`, `dimensions`)',
    ),
  };
  doc.paths['/v1/images/generations'] = {
    post: {
      operationId: 'Images_generate',
      tags: ['client-api'],
      summary:
        'Image generation (OpenAI shape). Providers: OpenAI (dall-e, gpt-image), xAI (Grok), Together (FLUX), Fireworks (FLUX)',
      description:
        '`prompt` required; `n` 1–10, `size` WxH or auto, `quality`, `response_format` url|b64_json. A provider that only returns base64 answers a `url` request with a `data:` URL.',
      security,
      requestBody: body('OpenAI image request', ['model', 'prompt'], {
        model: 'openai/dall-e-3',
        prompt: 'A lighthouse at dawn',
        size: '1024x1024',
        response_format: 'b64_json',
      }),
      responses: {
        '200': answer('`{created, data:[{url | b64_json, revised_prompt?}]}`', 'application/json'),
        ...mediaErrors,
      },
    },
    get: list(
      'Images_models',
      'The image models this key may use (`type:"image"`, `supported_sizes`)',
    ),
  };
  doc.paths['/v1/audio/transcriptions'] = {
    post: {
      operationId: 'Audio_transcriptions',
      tags: ['client-api'],
      summary:
        'Speech to text (multipart). Providers: OpenAI-compatible (whisper, gpt-4o-transcribe, Groq), Deepgram (nova-3), AssemblyAI (best)',
      security,
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              required: ['file', 'model'],
              properties: {
                file: {
                  type: 'string',
                  format: 'binary',
                  description:
                    'mp3 mp4 mpeg mpga m4a wav webm flac ogg oga; at most MAX_BODY_SIZE_MB',
                },
                model: { type: 'string', example: 'deepgram/nova-3' },
                language: { type: 'string' },
                prompt: { type: 'string' },
                response_format: {
                  type: 'string',
                  enum: ['json', 'text', 'verbose_json', 'srt', 'vtt'],
                },
                temperature: { type: 'number' },
              },
            },
          },
        },
      },
      responses: {
        '200': {
          description:
            'json: `{text, task, language, duration}`; text: the transcript; verbose_json: + segments, words',
          content: {
            'application/json': { schema: { type: 'object', additionalProperties: true } },
            'text/plain': { schema: { type: 'string' } },
          },
        },
        ...mediaErrors,
      },
    },
  };
  const scoped = (operation: string, example: Record<string, unknown>) => ({
    post: {
      operationId: `Provider_scoped_${operation.replace('/', '_')}`,
      tags: ['client-api'],
      summary: `One provider's ${operation}: an unprefixed model gets the provider's prefix; another provider's model is a 400`,
      security,
      parameters: [
        {
          name: 'provider',
          in: 'path' as const,
          required: true,
          schema: { type: 'string' },
          example: 'openai',
        },
      ],
      requestBody: body(`As /v1/${operation}`, ['model'], example),
      responses: { '200': answer(`As /v1/${operation}`), ...mediaErrors },
    },
  });
  doc.paths['/v1/providers/{provider}/chat/completions'] = scoped('chat/completions', {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Hello' }],
  });
  doc.paths['/v1/providers/{provider}/embeddings'] = scoped('embeddings', {
    model: 'text-embedding-3-small',
    input: 'hello',
  });
  doc.paths['/v1/providers/{provider}/images/generations'] = scoped('images/generations', {
    model: 'dall-e-3',
    prompt: 'a lighthouse',
  });
}
