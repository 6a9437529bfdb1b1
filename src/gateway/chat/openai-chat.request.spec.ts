import { AppError } from '@/common/errors/app-error';
import { parseChatRequest } from './openai-chat.request';

const MESSAGES = [{ role: 'user', content: 'hi' }];

function body(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'openai/gpt-4o-mini', messages: MESSAGES, ...extra };
}

/** Runs `parseChatRequest` expecting a failure and returns the AppError it threw. */
function rejection(input: unknown, accept?: string): AppError {
  try {
    parseChatRequest(input, accept);
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('parseChatRequest did not throw');
}

describe(parseChatRequest.name, () => {
  describe('stream negotiation', () => {
    it('streams when neither the body nor Accept says anything', () => {
      const call = parseChatRequest(body(), undefined);
      expect(call.stream).toBe(true);
      expect(call.body.stream).toBe(true);
    });

    it('streams when Accept is text/event-stream', () => {
      expect(parseChatRequest(body(), 'text/event-stream').stream).toBe(true);
    });

    it('does not stream when Accept is application/json only', () => {
      const call = parseChatRequest(body(), 'application/json');
      expect(call.stream).toBe(false);
      expect(call.body.stream).toBe(false);
    });

    it('reads Accept case-insensitively', () => {
      expect(parseChatRequest(body(), 'Application/JSON; charset=utf-8').stream).toBe(false);
    });

    it('streams when Accept lists both application/json and text/event-stream', () => {
      expect(parseChatRequest(body(), 'application/json, text/event-stream').stream).toBe(true);
    });

    it('streams when Accept is */*', () => {
      expect(parseChatRequest(body(), '*/*').stream).toBe(true);
    });

    it('lets stream:true in the body win over Accept: application/json', () => {
      expect(parseChatRequest(body({ stream: true }), 'application/json').stream).toBe(true);
    });

    it('lets stream:false in the body win over Accept: text/event-stream', () => {
      expect(parseChatRequest(body({ stream: false }), 'text/event-stream').stream).toBe(false);
    });

    it('treats stream:null as unspecified', () => {
      expect(parseChatRequest(body({ stream: null }), 'application/json').stream).toBe(false);
      expect(parseChatRequest(body({ stream: null }), undefined).stream).toBe(true);
    });

    it('honours streaming:false and removes the alias', () => {
      const call = parseChatRequest(body({ streaming: false }), 'text/event-stream');
      expect(call.stream).toBe(false);
      expect(call.body).not.toHaveProperty('streaming');
    });

    it('honours streaming:true and removes the alias', () => {
      const call = parseChatRequest(body({ streaming: true }), 'application/json');
      expect(call.stream).toBe(true);
      expect(call.body).not.toHaveProperty('streaming');
    });

    it.each(['non_stream', 'disable_stream', 'disable_streaming'])(
      'honours %s:true as non-stream and removes the alias',
      (alias) => {
        const call = parseChatRequest(body({ [alias]: true }), 'text/event-stream');
        expect(call.stream).toBe(false);
        expect(call.body.stream).toBe(false);
        expect(call.body).not.toHaveProperty(alias);
      },
    );

    it.each(['non_stream', 'disable_stream', 'disable_streaming'])(
      'ignores %s:false but still removes the alias',
      (alias) => {
        const call = parseChatRequest(body({ [alias]: false }), undefined);
        expect(call.stream).toBe(true);
        expect(call.body).not.toHaveProperty(alias);
      },
    );

    it('lets stream in the body win over the aliases and removes the aliases anyway', () => {
      const call = parseChatRequest(
        body({ stream: true, non_stream: true, streaming: false, disable_streaming: true }),
        'application/json',
      );
      expect(call.stream).toBe(true);
      expect(Object.keys(call.body).sort()).toEqual(['messages', 'model', 'stream']);
    });

    it('removes a non-boolean streaming alias without honouring it', () => {
      const call = parseChatRequest(body({ streaming: 'no' }), 'application/json');
      expect(call.stream).toBe(false);
      expect(call.body).not.toHaveProperty('streaming');
    });
  });

  describe('stream_options', () => {
    it('removes stream_options from a non-stream request', () => {
      const call = parseChatRequest(
        body({ stream: false, stream_options: { include_usage: true } }),
        undefined,
      );
      expect(call.body).not.toHaveProperty('stream_options');
    });

    it('keeps stream_options on a stream request', () => {
      const call = parseChatRequest(
        body({ stream: true, stream_options: { include_usage: true } }),
        undefined,
      );
      expect(call.body.stream_options).toEqual({ include_usage: true });
    });

    it('reports clientWantsStreamUsage when include_usage is true', () => {
      const call = parseChatRequest(body({ stream_options: { include_usage: true } }), undefined);
      expect(call.clientWantsStreamUsage).toBe(true);
    });

    it.each([
      ['absent', undefined],
      ['null', null],
      ['include_usage false', { include_usage: false }],
      ['include_usage "true" (a string)', { include_usage: 'true' }],
      ['an empty object', {}],
    ])('does not report clientWantsStreamUsage when stream_options is %s', (_label, so) => {
      const extra = so === undefined ? {} : { stream_options: so };
      expect(parseChatRequest(body(extra), undefined).clientWantsStreamUsage).toBe(false);
    });

    it('rejects a stream_options that is not an object', () => {
      const e = rejection(body({ stream_options: [true] }));
      expect(e.status).toBe(400);
      expect(e.details?.param).toBe('stream_options');
    });
  });

  describe('result', () => {
    it('returns the model as sent and keeps unknown fields', () => {
      const input = body({
        model: 'OpenRouter/openai/gpt-4o',
        temperature: 0.2,
        metadata: { team: 'a' },
        x_custom: [1, 2],
        response_format: { type: 'json_object' },
      });
      const call = parseChatRequest(input, 'application/json');
      expect(call.model).toBe('OpenRouter/openai/gpt-4o');
      expect(call.body).toEqual({
        model: 'OpenRouter/openai/gpt-4o',
        messages: MESSAGES,
        temperature: 0.2,
        metadata: { team: 'a' },
        x_custom: [1, 2],
        response_format: { type: 'json_object' },
        stream: false,
      });
    });

    it('accepts null and array message content and null numeric fields', () => {
      const call = parseChatRequest(
        body({
          messages: [
            { role: 'system', content: null },
            { role: 'user', content: [{ type: 'text', text: 'hi' }] },
            { role: 'assistant' },
          ],
          temperature: null,
          tools: null,
        }),
        undefined,
      );
      expect(call.body.messages).toHaveLength(3);
    });
  });

  describe('validation', () => {
    it.each([
      ['null', null],
      ['an array', [body()]],
      ['a string', '{"model":"x"}'],
      ['a number', 42],
      ['undefined', undefined],
    ])('returns 400 INVALID_JSON when the body is %s', (_label, input) => {
      const e = rejection(input);
      expect(e.status).toBe(400);
      expect(e.code).toBe('INVALID_JSON');
    });

    it.each([
      ['missing', undefined],
      ['null', null],
      ['empty', ''],
    ])('returns 400 MISSING_MODEL when the model is %s', (_label, model) => {
      const input = body();
      if (model === undefined) {
        delete input.model;
      } else {
        input.model = model;
      }
      const e = rejection(input);
      expect(e.status).toBe(400);
      expect(e.code).toBe('MISSING_MODEL');
      expect(e.message).toBe('Missing model');
      expect(e.details?.param).toBe('model');
    });

    it.each([
      ['a number', 4],
      ['an object', { id: 'gpt' }],
      ['a boolean', true],
    ])('returns 400 when the model is %s', (_label, model) => {
      const e = rejection(body({ model }));
      expect(e.status).toBe(400);
      expect(e.code).toBe('INVALID_REQUEST');
      expect(e.details?.param).toBe('model');
    });

    it.each([
      ['a path traversal', 'openai/../admin'],
      ['a newline', 'gpt-4o\nX-Injected: 1'],
      ['a NUL byte', 'gpt\u00004o'],
      ['a DEL character', 'gpt\u007f'],
      ['more than 300 characters', `openai/${'a'.repeat(300)}`],
    ])('returns 400 INVALID_MODEL when the model contains %s', (_label, model) => {
      const e = rejection(body({ model }));
      expect(e.status).toBe(400);
      expect(e.code).toBe('INVALID_MODEL');
      expect(e.details?.param).toBe('model');
    });

    it.each([
      ['missing', undefined],
      ['not an array', { role: 'user', content: 'hi' }],
      ['empty', []],
    ])('returns 400 when messages is %s', (_label, messages) => {
      const input = body({ messages });
      if (messages === undefined) {
        delete input.messages;
      }
      const e = rejection(input);
      expect(e.status).toBe(400);
      expect(e.details?.param).toBe('messages');
    });

    it.each([
      ['a string', 'hello'],
      ['null', null],
      ['an array', [{ role: 'user' }]],
    ])('returns 400 naming the index when a message is %s', (_label, m) => {
      const e = rejection(body({ messages: [{ role: 'user', content: 'ok' }, m] }));
      expect(e.status).toBe(400);
      expect(e.details?.param).toBe('messages[1]');
    });

    it.each([
      ['missing', { content: 'hi' }],
      ['empty', { role: '', content: 'hi' }],
      ['not a string', { role: 1, content: 'hi' }],
    ])('returns 400 naming messages[i].role when the role is %s', (_label, m) => {
      const e = rejection(body({ messages: [m] }));
      expect(e.status).toBe(400);
      expect(e.details?.param).toBe('messages[0].role');
    });

    it('returns 400 naming messages[i].content when content is a number', () => {
      const e = rejection(body({ messages: [{ role: 'user', content: 42 }] }));
      expect(e.status).toBe(400);
      expect(e.details?.param).toBe('messages[0].content');
    });

    it.each([
      'temperature',
      'top_p',
      'max_tokens',
      'max_completion_tokens',
      'n',
      'presence_penalty',
      'frequency_penalty',
    ])('returns 400 naming %s when it is not a finite number', (field) => {
      for (const bad of ['1', true, {}, Number.NaN, Number.POSITIVE_INFINITY]) {
        const e = rejection(body({ [field]: bad }));
        expect(e.status).toBe(400);
        expect(e.details?.param).toBe(field);
      }
    });

    it.each([
      ['an object', { type: 'function' }],
      ['a string', 'get_weather'],
    ])('returns 400 naming tools when tools is %s', (_label, tools) => {
      const e = rejection(body({ tools }));
      expect(e.status).toBe(400);
      expect(e.details?.param).toBe('tools');
    });

    it('returns 400 naming stream when stream is not a boolean', () => {
      const e = rejection(body({ stream: 'true' }));
      expect(e.status).toBe(400);
      expect(e.details?.param).toBe('stream');
    });
  });
});
