import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { SESSION_HEADERS, firstUserText, fingerprint, systemText, toolNames } from './session-id';
import { SessionsService } from './sessions.service';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const fp = (model: string, sys: string, user0: string, tools: string): string =>
  `fp:${sha(JSON.stringify([model, sys, user0, tools])).slice(0, 16)}`;

describe('SessionsService.resolve', () => {
  // resolve() is synchronous and touches no store: a service without one answers it.
  const service = new SessionsService(undefined as never);
  const resolve = service.resolve.bind(service);

  describe('client-sent ids', () => {
    it.each(SESSION_HEADERS.map((h) => [h]))('reads the %s header as ext:<value>', (h) => {
      expect(resolve({ [h]: '  abc-123 ' }, {}, 'm')).toEqual({
        id: 'ext:abc-123',
        source: 'header',
      });
    });

    it('takes the first present header in the documented order', () => {
      const all = Object.fromEntries(SESSION_HEADERS.map((h, i) => [h, `v${i}`]));
      expect(resolve(all, {}, 'm').id).toBe('ext:v0');
      for (let i = 1; i < SESSION_HEADERS.length; i++) {
        const rest = Object.fromEntries(SESSION_HEADERS.slice(i).map((h, j) => [h, `v${i + j}`]));
        expect(resolve(rest, {}, 'm').id).toBe(`ext:v${i}`);
      }
    });

    it('skips empty or blank headers and takes the first of a repeated one', () => {
      expect(
        resolve({ 'x-session-id': '   ', 'x-codex-session-id': ['c1', 'c2'] }, {}, 'm').id,
      ).toBe('ext:c1');
      expect(resolve({ 'x-session-id': '' }, {}, 'm').source).toBe('fingerprint');
    });

    it('keeps ids up to 64 characters with the prefix and hashes longer ones', () => {
      const sixty = 'a'.repeat(60);
      expect(resolve({ 'x-session-id': sixty }, {}, 'm').id).toBe(`ext:${sixty}`);
      const long = 'a'.repeat(61);
      expect(resolve({ 'x-session-id': long }, {}, 'm').id).toBe(`ext:${sha(long).slice(0, 32)}`);
    });

    it('hashes a body id with characters that cannot go into a header', () => {
      const id = resolve({}, { prompt_cache_key: 'a\nb' }, 'm').id;
      expect(id).toBe(`ext:${sha('a\nb').slice(0, 32)}`);
      expect(resolve({}, { prompt_cache_key: 'sessión' }, 'm').id).toMatch(/^ext:[0-9a-f]{32}$/);
    });

    it('reads metadata.session_id, then prompt_cache_key, from the body', () => {
      expect(
        resolve({}, { metadata: { session_id: 'meta' }, prompt_cache_key: 'pck' }, 'm'),
      ).toEqual({ id: 'ext:meta', source: 'header' });
      expect(resolve({}, { metadata: { session_id: ' ' }, prompt_cache_key: 'pck' }, 'm')).toEqual({
        id: 'ext:pck',
        source: 'header',
      });
      // Headers win over the body.
      expect(resolve({ session_id: 'h' }, { prompt_cache_key: 'pck' }, 'm').id).toBe('ext:h');
    });

    it('does not use previous_response_id', () => {
      expect(resolve({}, { previous_response_id: 'resp_1', input: 'hi' }, 'm').source).toBe(
        'fingerprint',
      );
    });
  });

  describe('fingerprints', () => {
    const tools = [
      { type: 'function', function: { name: 'search', parameters: {} } },
      { type: 'function', function: { name: 'calc', parameters: {} } },
    ];

    it('is fp: + sha256(model|sys|user0|tools)[:16] of an OpenAI chat body', () => {
      const body = {
        model: 'ignored',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hello' },
        ],
        tools,
      };
      expect(resolve({}, body, 'gpt-4o')).toEqual({
        id: fp('gpt-4o', 'Be brief.', 'Hello', 'calc,search'),
        source: 'fingerprint',
      });
    });

    it('reads every dialect to the same parts', () => {
      const expected = fp('m', 'SYS', 'USER', 'a,b');
      const bodies: [string, unknown][] = [
        [
          'OpenAI, developer role and text parts',
          {
            messages: [
              { role: 'developer', content: [{ type: 'text', text: 'SYS' }] },
              { role: 'user', content: [{ type: 'text', text: 'USER' }] },
            ],
            tools: [{ function: { name: 'b' } }, { function: { name: 'a' } }],
          },
        ],
        [
          'Anthropic, system string',
          {
            system: 'SYS',
            messages: [{ role: 'user', content: 'USER' }],
            tools: [{ name: 'b', input_schema: {} }, { name: 'a' }],
          },
        ],
        [
          'Anthropic, system blocks and content blocks',
          {
            system: [{ type: 'text', text: 'SYS', cache_control: { type: 'ephemeral' } }],
            messages: [{ role: 'user', content: [{ type: 'text', text: 'USER' }] }],
            tools: [{ name: 'a' }, { name: 'b' }],
          },
        ],
        [
          'Responses, instructions and string input',
          {
            instructions: 'SYS',
            input: 'USER',
            tools: [{ type: 'function', name: 'a' }, { name: 'b' }],
          },
        ],
        [
          'Responses, input items',
          {
            instructions: 'SYS',
            input: [
              { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'USER' }] },
              { type: 'message', role: 'assistant', content: 'later' },
            ],
            tools: [{ name: 'b' }, { name: 'a' }],
          },
        ],
        [
          'Responses, developer item instead of instructions',
          {
            input: [
              { role: 'developer', content: 'SYS' },
              { role: 'user', content: 'USER' },
            ],
            tools: [{ name: 'b' }, { name: 'a' }],
          },
        ],
        [
          'Gemini',
          {
            systemInstruction: { parts: [{ text: 'SYS' }] },
            contents: [
              { role: 'user', parts: [{ text: 'USER' }] },
              { role: 'model', parts: [{ text: 'x' }] },
            ],
            tools: [{ functionDeclarations: [{ name: 'b' }, { name: 'a' }] }],
          },
        ],
        [
          'Gemini, snake case and a content without a role',
          {
            system_instruction: { parts: [{ text: 'SYS' }] },
            contents: [{ parts: [{ text: 'USER' }] }],
            tools: [
              { function_declarations: [{ name: 'a' }] },
              { functionDeclarations: [{ name: 'b' }] },
            ],
          },
        ],
      ];
      for (const [what, body] of bodies) {
        expect({ what, id: resolve({}, body, 'm').id }).toEqual({ what, id: expected });
      }
    });

    it('keeps the id while the conversation grows', () => {
      const turn1 = {
        messages: [
          { role: 'system', content: 'S' },
          { role: 'user', content: 'first question' },
        ],
        tools,
      };
      const turn3 = {
        messages: [
          ...turn1.messages,
          { role: 'assistant', content: 'answer' },
          { role: 'user', content: 'follow-up' },
          { role: 'system', content: 'a reminder injected later' },
        ],
        tools: [...tools].reverse(),
      };
      expect(resolve({}, turn3, 'gpt')).toEqual(resolve({}, turn1, 'gpt'));
    });

    it('changes with the model, the system prompt, the first user message or the tools', () => {
      const base = {
        messages: [
          { role: 'system', content: 'S' },
          { role: 'user', content: 'U' },
        ],
        tools,
      };
      const id = resolve({}, base, 'gpt').id;
      const variants: unknown[] = [
        { ...base, messages: [{ role: 'system', content: 'S2' }, base.messages[1]] },
        { ...base, messages: [base.messages[0], { role: 'user', content: 'U2' }] },
        { ...base, tools: tools.slice(1) },
        { ...base, tools: [] },
      ];
      for (const v of variants) {
        expect(resolve({}, v, 'gpt').id).not.toBe(id);
      }
      expect(resolve({}, base, 'gpt-mini').id).not.toBe(id);
    });

    it('fingerprints empty parts for a body without any', () => {
      expect(resolve({}, {}, 'm').id).toBe(fp('m', '', '', ''));
      expect(fingerprint(undefined, 'm')).toBe(fp('m', '', '', ''));
    });
  });

  describe('odd bodies', () => {
    it('never throws and always answers an id', () => {
      const odd: unknown[] = [
        null,
        undefined,
        42,
        'text',
        [],
        [{ role: 'user' }],
        { messages: 'x' },
        { messages: [null, 1, 'x', { role: 5 }, { role: 'user', content: { text: 'obj' } }] },
        { messages: [{ role: 'user', content: [null, 1, { text: 5 }, { type: 'image_url' }] }] },
        { system: 5, instructions: {}, input: 7, contents: {}, systemInstruction: 'plain' },
        { tools: 'x' },
        {
          tools: [
            null,
            { function: null },
            { function: { name: 1 } },
            { functionDeclarations: 'x' },
          ],
        },
        { metadata: 'x', prompt_cache_key: 12 },
        { metadata: { session_id: { nested: true } } },
        Object.create(null),
      ];
      for (const body of odd) {
        const r = resolve({}, body, 'm');
        expect(r.source).toBe('fingerprint');
        expect(r.id).toMatch(/^fp:[0-9a-f]{16}$/);
      }
      expect(resolve({ 'x-session-id': undefined }, null, undefined as never).id).toMatch(
        /^fp:[0-9a-f]{16}$/,
      );
    });

    it('survives a property that throws when read', () => {
      const body = {
        get messages(): never {
          throw new Error('boom');
        },
      };
      expect(() => resolve({}, body, 'm')).not.toThrow();
    });

    it('holds for arbitrary JSON bodies and header values (property)', () => {
      fc.assert(
        fc.property(fc.jsonValue(), fc.string(), (body, header) => {
          const r = resolve({ 'x-session-id': header }, body, 'm');
          expect(r.id.length).toBeLessThanOrEqual(64);
          expect(r.id).toMatch(/^(ext|fp):[\x20-\x7e]+$/);
          if (header.trim()) {
            expect(r.source).toBe('header');
          }
        }),
      );
    });
  });

  describe('parts', () => {
    it('takes the first system message only and joins text parts with newlines', () => {
      expect(
        systemText({
          messages: [
            { role: 'system', content: [{ text: 'a' }, 'b', { type: 'image' }] },
            { role: 'system', content: 'c' },
          ],
        }),
      ).toBe('a\nb');
      expect(firstUserText({ messages: [{ role: 'assistant', content: 'x' }] })).toBe('');
      expect(toolNames({ tools: [{ name: 'z' }, { function: { name: 'a' } }] })).toEqual([
        'a',
        'z',
      ]);
    });
  });
});
