import { BadRequestException, ForbiddenException, NotFoundException } from '@nestjs/common';
import { AppError, type ErrorCategory } from './app-error';
import { dialectForPath, openAiType, renderError, toAppError } from './render';

const REQ = 'req-123';

const withStatus = (status: number): AppError =>
  new AppError('SOME_CODE', 'INVALID_INPUT', `failed with ${status}`, undefined, status);

describe(renderError.name, () => {
  describe('openai dialect', () => {
    it.each([
      [400, 'invalid_request_error'],
      [401, 'authentication_error'],
      [402, 'billing_error'],
      [403, 'permission_error'],
      [404, 'invalid_request_error'],
      [409, 'invalid_request_error'],
      [413, 'invalid_request_error'],
      [429, 'rate_limit_error'],
      [499, 'invalid_request_error'],
      [500, 'server_error'],
      [502, 'server_error'],
      [503, 'server_error'],
      [504, 'server_error'],
    ])('renders status %i as type %s', (status, type) => {
      const r = renderError(withStatus(status), 'openai', REQ);
      expect(r.status).toBe(status);
      expect(r.body).toEqual({
        error: { message: `failed with ${status}`, type, param: null, code: 'some_code' },
      });
    });

    it('takes the status from the category', () => {
      const cases: [ErrorCategory, number, string][] = [
        ['UNAUTHENTICATED', 401, 'authentication_error'],
        ['FORBIDDEN', 403, 'permission_error'],
        ['RATE_LIMITED', 429, 'rate_limit_error'],
        ['UPSTREAM_TIMEOUT', 504, 'server_error'],
      ];
      for (const [category, status, type] of cases) {
        const r = renderError(new AppError('X', category, 'm'), 'openai', REQ);
        expect(r.status).toBe(status);
        expect((r.body as { error: { type: string } }).error.type).toBe(type);
      }
    });

    it('reports the offending parameter', () => {
      const r = renderError(
        new AppError('MISSING_MODEL', 'INVALID_INPUT', 'Missing model', { param: 'model' }),
        'openai',
        REQ,
      );
      expect(r.body).toEqual({
        error: {
          message: 'Missing model',
          type: 'invalid_request_error',
          param: 'model',
          code: 'missing_model',
        },
      });
    });

    it.each(['API_KEY_REQUIRED', 'API_KEY_INVALID', 'API_KEY_REVOKED'])(
      'maps %s to the invalid_api_key code OpenAI SDKs know',
      (code) => {
        const r = renderError(new AppError(code, 'UNAUTHENTICATED', 'no'), 'openai', REQ);
        expect((r.body as { error: { code: string } }).error.code).toBe('invalid_api_key');
      },
    );

    it('includes upstream details when present and passes headers through', () => {
      const err = new AppError(
        'UPSTREAM_ERROR',
        'UPSTREAM_ERROR',
        '[429]: slow down',
        { upstream: { status: 429 } },
        429,
        { 'retry-after': '3' },
      );
      const r = renderError(err, 'openai', REQ);
      expect(r.headers).toEqual({ 'retry-after': '3' });
      expect(r.body).toEqual({
        error: {
          message: '[429]: slow down',
          type: 'rate_limit_error',
          param: null,
          code: 'upstream_error',
          upstream: { status: 429 },
        },
      });
    });
  });

  describe('anthropic dialect', () => {
    it.each([
      [400, 'invalid_request_error'],
      [401, 'authentication_error'],
      [403, 'permission_error'],
      [404, 'not_found_error'],
      [413, 'request_too_large'],
      [429, 'rate_limit_error'],
      [500, 'api_error'],
      [503, 'overloaded_error'],
      [504, 'timeout_error'],
    ])('renders status %i as {type:"error",error:{type:%s}}', (status, type) => {
      const r = renderError(withStatus(status), 'anthropic', REQ);
      expect(r.status).toBe(status);
      expect(r.body).toEqual({ type: 'error', error: { type, message: `failed with ${status}` } });
    });
  });

  describe('gemini dialect', () => {
    it.each([
      [400, 'INVALID_ARGUMENT'],
      [401, 'UNAUTHENTICATED'],
      [403, 'PERMISSION_DENIED'],
      [404, 'NOT_FOUND'],
      [429, 'RESOURCE_EXHAUSTED'],
      [500, 'INTERNAL'],
      [503, 'UNAVAILABLE'],
      [504, 'DEADLINE_EXCEEDED'],
    ])('renders status %i as {error:{code,message,status:%s}}', (status, grpc) => {
      const r = renderError(withStatus(status), 'gemini', REQ);
      expect(r.status).toBe(status);
      expect(r.body).toEqual({
        error: { code: status, message: `failed with ${status}`, status: grpc },
      });
    });
  });

  describe('ollama dialect', () => {
    it('renders {error: message}', () => {
      const r = renderError(AppError.notFound('model "x" not found'), 'ollama', REQ);
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ error: 'model "x" not found' });
    });
  });

  describe('management dialect', () => {
    it('renders code, message, request id and details', () => {
      const err = AppError.invalid(
        'Invalid request',
        { fields: [{ field: 'name' }] },
        'VALIDATION_FAILED',
      );
      const r = renderError(err, 'management', REQ);
      expect(r.status).toBe(400);
      expect(r.body).toEqual({
        error: {
          code: 'VALIDATION_FAILED',
          message: 'Invalid request',
          requestId: REQ,
          details: { fields: [{ field: 'name' }] },
        },
        requestId: REQ,
      });
    });

    it('leaves details out when there are none', () => {
      const r = renderError(AppError.conflict('Name taken'), 'management', REQ);
      expect(r.status).toBe(409);
      expect(r.body).toEqual({
        error: { code: 'CONFLICT', message: 'Name taken', requestId: REQ },
        requestId: REQ,
      });
    });
  });
});

describe(openAiType.name, () => {
  it('uses server_error for any 5xx', () => {
    expect(openAiType(501)).toBe('server_error');
    expect(openAiType(599)).toBe('server_error');
  });
});

describe(dialectForPath.name, () => {
  it.each([
    ['/v1/chat/completions', 'openai'],
    ['/v1/chat/completions?x=1', 'openai'],
    ['/chat/completions', 'openai'],
    ['/v1/v1/chat/completions', 'openai'],
    ['/v1/responses', 'openai'],
    ['/responses', 'openai'],
    ['/codex/responses', 'openai'],
    ['/models', 'openai'],
    ['/v1/models', 'openai'],
    ['/v1/messages', 'anthropic'],
    ['/v1/messages/count_tokens', 'anthropic'],
    ['/v1beta/models/x:generateContent', 'gemini'],
    ['/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', 'gemini'],
    ['/api/v1beta/models', 'gemini'],
    ['/v1beta', 'gemini'],
    ['/v1/api/chat', 'ollama'],
    ['/api/tags', 'ollama'],
    ['/api/keys', 'management'],
    ['/api/providers/abc', 'management'],
    ['/health/live', 'management'],
    ['/metrics', 'management'],
    ['/', 'management'],
  ])('maps %s to %s', (path, dialect) => {
    expect(dialectForPath(path)).toBe(dialect);
  });
});

describe(toAppError.name, () => {
  it('returns an AppError unchanged', () => {
    const e = AppError.forbidden('nope');
    expect(toAppError(e)).toBe(e);
  });

  it('maps FST_ERR_CTP_BODY_TOO_LARGE to 413 PAYLOAD_TOO_LARGE', () => {
    const e = Object.assign(new Error('Request body is too large'), {
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
      statusCode: 413,
    });
    const a = toAppError(e);
    expect(a.status).toBe(413);
    expect(a.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('maps FST_ERR_CTP_INVALID_JSON_BODY to 400 INVALID_JSON', () => {
    const e = Object.assign(new SyntaxError('Unexpected token } in JSON at position 9'), {
      code: 'FST_ERR_CTP_INVALID_JSON_BODY',
      statusCode: 400,
    });
    const a = toAppError(e);
    expect(a.status).toBe(400);
    expect(a.code).toBe('INVALID_JSON');
    expect(a.message).toContain('Invalid JSON body');
  });

  it('maps FST_ERR_CTP_EMPTY_JSON_BODY to 400 INVALID_JSON', () => {
    const e = Object.assign(
      new Error("Body cannot be empty when content-type is set to 'application/json'"),
      {
        code: 'FST_ERR_CTP_EMPTY_JSON_BODY',
        statusCode: 400,
      },
    );
    expect(toAppError(e).code).toBe('INVALID_JSON');
  });

  it('maps FST_ERR_CTP_INVALID_MEDIA_TYPE to 415', () => {
    const e = Object.assign(new Error('Unsupported Media Type: text/plain'), {
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
      statusCode: 415,
    });
    const a = toAppError(e);
    expect(a.status).toBe(415);
    expect(a.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('maps a Nest NotFoundException for an unknown route to 404 ROUTE_NOT_FOUND', () => {
    const a = toAppError(new NotFoundException('Cannot GET /api/nope'));
    expect(a.status).toBe(404);
    expect(a.code).toBe('ROUTE_NOT_FOUND');
    expect(a.message).toBe('Route not found');
  });

  it('keeps a NotFoundException message that is not the router default', () => {
    expect(toAppError(new NotFoundException('Provider not found')).message).toBe(
      'Provider not found',
    );
  });

  it('keeps the status of other Nest 4xx exceptions', () => {
    const forbidden = toAppError(new ForbiddenException('Admin scope required'));
    expect(forbidden.status).toBe(403);
    expect(forbidden.category).toBe('FORBIDDEN');
    expect(toAppError(new BadRequestException('bad')).status).toBe(400);
  });

  it('maps an unknown Error to 500 INTERNAL without leaking its message', () => {
    const a = toAppError(new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2'));
    expect(a.status).toBe(500);
    expect(a.code).toBe('INTERNAL');
    expect(a.message).toBe('Internal server error');
    expect(JSON.stringify(renderError(a, 'openai', REQ).body)).not.toContain('hunter2');
  });

  it('maps an error carrying a 5xx status to 500 INTERNAL', () => {
    const a = toAppError(Object.assign(new Error('db down'), { statusCode: 503 }));
    expect(a.status).toBe(500);
    expect(a.message).toBe('Internal server error');
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', 'boom'],
    ['a number', 42],
  ])('maps a thrown %s to 500 INTERNAL', (_label, thrown) => {
    const a = toAppError(thrown);
    expect(a.status).toBe(500);
    expect(a.code).toBe('INTERNAL');
  });
});
