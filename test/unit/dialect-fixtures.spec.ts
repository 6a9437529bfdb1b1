/**
 * Well-formedness of the golden dialect fixtures in test/fixtures/dialects (see its README.md).
 *
 * Each dialect's request, non-stream response and stream transcript is parsed with a strict,
 * dialect-aware reader: SSE framing, event names against `type`, Anthropic block order, Responses
 * sequence numbers, OpenAI `[DONE]`, Ollama's final `done` line. The stream is then reassembled
 * (text deltas, reasoning deltas, tool-call argument fragments) and compared with the non-stream
 * body, and every dialect's fixtures are compared with the one canonical scenario per case, so the
 * five dialects are known to express the same four conversations.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', 'fixtures', 'dialects');

const DIALECTS = ['openai-chat', 'anthropic', 'gemini', 'responses', 'ollama'] as const;
type Dialect = (typeof DIALECTS)[number];
const CASES = ['text', 'parallel-tool-calls', 'thinking', 'image-input'] as const;
type Case = (typeof CASES)[number];

// ------------------------------------------------------------------------------------------------
// The canonical scenarios. README.md states the same values; every dialect must match them.

interface ToolCall {
  name: string;
  args: Obj;
}
interface Turn {
  role: 'user' | 'assistant';
  text: string;
}
interface Scenario {
  system: string;
  turns: Turn[];
  tools: { name: string; params: string[] }[];
  images: number;
  thinking: boolean;
  answer: string;
  toolCalls: ToolCall[];
}

const IMAGE_URL = 'https://example.com/images/red-square.png';
const SCENARIOS: Record<Case, Scenario> = {
  text: {
    system: 'You are a concise geography assistant.',
    turns: [
      { role: 'user', text: 'Hi!' },
      { role: 'assistant', text: 'Hello! What would you like to know?' },
      { role: 'user', text: 'What is the capital of France?' },
    ],
    tools: [],
    images: 0,
    thinking: false,
    answer: 'The capital of France is Paris — famous for the Eiffel Tower.',
    toolCalls: [],
  },
  'parallel-tool-calls': {
    system: 'You are a helpful assistant. Call tools in parallel when the calls are independent.',
    turns: [
      { role: 'user', text: "What's the weather in Paris right now, and what time is it there?" },
    ],
    tools: [
      { name: 'get_weather', params: ['city', 'unit'] },
      { name: 'get_time', params: ['timezone'] },
    ],
    images: 0,
    thinking: false,
    answer: "I'll check the current weather and the local time in Paris.",
    toolCalls: [
      { name: 'get_weather', args: { city: 'Paris', unit: 'celsius' } },
      { name: 'get_time', args: { timezone: 'Europe/Paris' } },
    ],
  },
  thinking: {
    system: '',
    turns: [{ role: 'user', text: 'Is 391 a prime number? Answer in one sentence.' }],
    tools: [],
    images: 0,
    thinking: true,
    answer: 'No — 391 is not prime, because 391 = 17 × 23.',
    toolCalls: [],
  },
  'image-input': {
    system: '',
    turns: [{ role: 'user', text: 'What shape and colour is in each of these two images?' }],
    tools: [],
    images: 2,
    thinking: false,
    answer:
      'The first image shows a red square and the second shows a blue circle, both on a white background.',
    toolCalls: [],
  },
};

/** The stop signal each dialect reports per case (Responses: the response status). */
const STOP: Record<Dialect, Record<Case, string>> = {
  'openai-chat': {
    text: 'stop',
    'parallel-tool-calls': 'tool_calls',
    thinking: 'stop',
    'image-input': 'stop',
  },
  anthropic: {
    text: 'end_turn',
    'parallel-tool-calls': 'tool_use',
    thinking: 'end_turn',
    'image-input': 'end_turn',
  },
  gemini: { text: 'STOP', 'parallel-tool-calls': 'STOP', thinking: 'STOP', 'image-input': 'STOP' },
  responses: {
    text: 'completed',
    'parallel-tool-calls': 'completed',
    thinking: 'completed',
    'image-input': 'completed',
  },
  ollama: { text: 'stop', 'parallel-tool-calls': 'stop', thinking: 'stop', 'image-input': 'stop' },
};

// ------------------------------------------------------------------------------------------------
// Small typed accessors: a fixture with the wrong shape fails with a message naming the place.

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function assert(cond: unknown, message: string): asserts cond {
  if (!cond) {
    throw new Error(message);
  }
}
function obj(v: unknown, where: string): Obj {
  assert(isObj(v), `${where}: expected an object, got ${JSON.stringify(v)}`);
  return v;
}
function arr(v: unknown, where: string): unknown[] {
  assert(Array.isArray(v), `${where}: expected an array, got ${JSON.stringify(v)}`);
  return v;
}
function str(v: unknown, where: string): string {
  assert(typeof v === 'string', `${where}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}
function num(v: unknown, where: string): number {
  assert(typeof v === 'number', `${where}: expected a number, got ${JSON.stringify(v)}`);
  return v;
}
/** `at(v, 'choices.0.delta')`: walks objects and arrays, undefined when a step is missing. */
function at(v: unknown, path: string): unknown {
  let cur = v;
  for (const key of path.split('.')) {
    if (Array.isArray(cur)) {
      cur = cur[Number(key)];
    } else if (isObj(cur)) {
      cur = cur[key];
    } else {
      return undefined;
    }
  }
  return cur;
}
function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${where}: invalid JSON (${(err as Error).message}): ${text.slice(0, 120)}`);
  }
}
function parseArgs(text: string, where: string): Obj {
  return obj(parseJson(text, where), `${where} (tool arguments)`);
}

function read(rel: string): string {
  return readFileSync(join(ROOT, rel), 'utf8');
}
function readJson(rel: string): unknown {
  return parseJson(read(rel), rel);
}
const streamFile = (d: Dialect, c: Case): string =>
  `${d}/${c}.${d === 'ollama' ? 'stream.ndjson' : 'stream.sse'}`;

// ------------------------------------------------------------------------------------------------
// SSE framing (WHATWG event-stream rules: LF, CRLF or CR line ends; blank line ends an event).

interface SseEvent {
  event?: string;
  data: string;
}

function parseSse(raw: string): SseEvent[] {
  const lines = raw.split(/\r\n|\r|\n/);
  assert(lines.pop() === '', 'SSE: the stream does not end with a line break');
  const events: SseEvent[] = [];
  let event: string | undefined;
  let data: string[] = [];
  let pending = false;
  for (const line of lines) {
    if (line === '') {
      if (pending) {
        assert(data.length > 0, `SSE: event "${event ?? ''}" has no data line`);
        events.push({ event, data: data.join('\n') });
      }
      event = undefined;
      data = [];
      pending = false;
      continue;
    }
    if (line.startsWith(':')) {
      continue; // comment, e.g. ": keep-alive"
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    if (field === 'event') {
      assert(event === undefined, `SSE: two event lines in one event (${line})`);
      event = value;
    } else if (field === 'data') {
      data.push(value);
    } else {
      throw new Error(`SSE: unexpected field "${field}"`);
    }
    pending = true;
  }
  assert(!pending, 'SSE: the last event is not terminated by a blank line');
  assert(events.length > 0, 'SSE: no events');
  return events;
}

// ------------------------------------------------------------------------------------------------
// What a response or a stream says, in dialect-neutral terms.

interface Extracted {
  text: string;
  reasoning: string;
  toolCalls: ToolCall[];
  stop: string;
  /** Opaque reasoning tokens: Anthropic signatures, Gemini thoughtSignature, encrypted_content. */
  signatures: string[];
  usage?: Obj;
}
const empty = (): Extracted => ({
  text: '',
  reasoning: '',
  toolCalls: [],
  stop: '',
  signatures: [],
});

// --- OpenAI Chat Completions --------------------------------------------------------------------

function openaiChatResponse(body: unknown): Extracted {
  const b = obj(body, 'response');
  assert(b.object === 'chat.completion', 'object must be "chat.completion"');
  const choice = obj(at(b, 'choices.0'), 'choices[0]');
  const msg = obj(choice.message, 'choices[0].message');
  assert(msg.role === 'assistant', 'message.role must be "assistant"');
  const out = empty();
  out.text = msg.content === null ? '' : str(msg.content, 'message.content');
  if (msg.reasoning_content !== undefined) {
    out.reasoning = str(msg.reasoning_content, 'message.reasoning_content');
  }
  for (const [i, raw] of (msg.tool_calls === undefined
    ? []
    : arr(msg.tool_calls, 'tool_calls')
  ).entries()) {
    const tc = obj(raw, `tool_calls[${i}]`);
    assert(str(tc.id, `tool_calls[${i}].id`).startsWith('call_'), 'tool call ids start with call_');
    assert(tc.type === 'function', `tool_calls[${i}].type must be "function"`);
    const fn = obj(tc.function, `tool_calls[${i}].function`);
    out.toolCalls.push({
      name: str(fn.name, 'function.name'),
      args: parseArgs(str(fn.arguments, 'function.arguments'), `tool_calls[${i}]`),
    });
  }
  out.stop = str(choice.finish_reason, 'finish_reason');
  out.usage = obj(b.usage, 'usage');
  return out;
}

function openaiChatStream(raw: string): Extracted {
  const events = parseSse(raw);
  assert(events[events.length - 1].data === '[DONE]', 'OpenAI stream must end with data: [DONE]');
  const out = empty();
  const calls: { name: string; args: string }[] = [];
  let id: unknown;
  let stop: string | undefined;
  events.slice(0, -1).forEach((ev, i) => {
    assert(ev.event === undefined, `chunk ${i}: OpenAI chunks carry no event: line`);
    assert(ev.data !== '[DONE]', `chunk ${i}: [DONE] before the end of the stream`);
    const chunk = obj(parseJson(ev.data, `chunk ${i}`), `chunk ${i}`);
    assert(
      chunk.object === 'chat.completion.chunk',
      `chunk ${i}: object must be chat.completion.chunk`,
    );
    if (i === 0) {
      id = chunk.id;
    }
    assert(chunk.id === id, `chunk ${i}: every chunk of one completion has the same id`);
    if (chunk.usage !== null && chunk.usage !== undefined) {
      assert(out.usage === undefined, `chunk ${i}: usage reported twice`);
      out.usage = obj(chunk.usage, `chunk ${i}.usage`);
    }
    for (const rawChoice of arr(chunk.choices, `chunk ${i}.choices`)) {
      const choice = obj(rawChoice, `chunk ${i}.choices[]`);
      const delta = obj(choice.delta, `chunk ${i}.delta`);
      if (typeof delta.content === 'string') {
        out.text += delta.content;
      }
      if (typeof delta.reasoning_content === 'string') {
        out.reasoning += delta.reasoning_content;
      }
      for (const rawCall of delta.tool_calls === undefined
        ? []
        : arr(delta.tool_calls, 'tool_calls')) {
        const tc = obj(rawCall, `chunk ${i}.tool_calls[]`);
        const index = num(tc.index, `chunk ${i}.tool_calls[].index`);
        const fn = obj(tc.function, `chunk ${i}.tool_calls[].function`);
        if (index === calls.length) {
          assert(
            typeof tc.id === 'string' && tc.type === 'function' && typeof fn.name === 'string',
            `chunk ${i}: the first delta of tool call ${index} must carry id, type and function.name`,
          );
          calls.push({ name: fn.name, args: '' });
        } else {
          assert(index < calls.length, `chunk ${i}: tool call index ${index} skips an index`);
          assert(
            tc.id === undefined && fn.name === undefined,
            `chunk ${i}: only the first delta of tool call ${index} carries id and name`,
          );
        }
        if (fn.arguments !== undefined) {
          calls[index].args += str(fn.arguments, `chunk ${i}.function.arguments`);
        }
      }
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
        assert(stop === undefined, `chunk ${i}: a second finish_reason`);
        stop = str(choice.finish_reason, `chunk ${i}.finish_reason`);
      }
    }
  });
  assert(stop !== undefined, 'OpenAI stream: no chunk carries a finish_reason');
  out.stop = stop;
  out.toolCalls = calls.map((c, i) => ({
    name: c.name,
    args: parseArgs(c.args, `streamed tool call ${i}`),
  }));
  return out;
}

// --- Anthropic Messages -------------------------------------------------------------------------

const ANTHROPIC_DELTAS: Record<string, string[]> = {
  text: ['text_delta', 'citations_delta'],
  tool_use: ['input_json_delta'],
  thinking: ['thinking_delta', 'signature_delta'],
  redacted_thinking: [],
};

function anthropicBlocks(content: unknown[], where: string, out: Extracted): void {
  content.forEach((raw, i) => {
    const block = obj(raw, `${where}[${i}]`);
    switch (block.type) {
      case 'text':
        out.text += str(block.text, `${where}[${i}].text`);
        break;
      case 'thinking':
        out.reasoning += str(block.thinking, `${where}[${i}].thinking`);
        out.signatures.push(str(block.signature, `${where}[${i}].signature`));
        break;
      case 'redacted_thinking':
        assert(
          str(block.data, `${where}[${i}].data`).length > 0,
          'redacted_thinking.data is empty',
        );
        break;
      case 'tool_use':
        assert(
          str(block.id, `${where}[${i}].id`).startsWith('toolu_'),
          'tool_use ids start with toolu_',
        );
        out.toolCalls.push({
          name: str(block.name, `${where}[${i}].name`),
          args: obj(block.input, `${where}[${i}].input`),
        });
        break;
      default:
        throw new Error(
          `${where}[${i}]: unexpected content block type ${JSON.stringify(block.type)}`,
        );
    }
  });
}

function anthropicResponse(body: unknown): Extracted {
  const b = obj(body, 'response');
  assert(b.type === 'message' && b.role === 'assistant', 'a Message with role assistant');
  assert(str(b.id, 'id').startsWith('msg_'), 'message ids start with msg_');
  const out = empty();
  anthropicBlocks(arr(b.content, 'content'), 'content', out);
  out.stop = str(b.stop_reason, 'stop_reason');
  out.usage = obj(b.usage, 'usage');
  return out;
}

/**
 * Validates the event order (message_start first; blocks opened, filled and closed one at a time
 * with consecutive indexes; message_delta after the last block; message_stop last; ping anywhere
 * after message_start; `error` only as the final event of a failed stream) and reassembles the
 * message.
 */
function anthropicStream(
  raw: string,
  opts: { failed?: boolean } = {},
): Extracted & { error?: Obj } {
  const events = parseSse(raw).map((ev, i) => {
    assert(ev.event !== undefined, `event ${i}: Anthropic events carry an event: line`);
    const data = obj(parseJson(ev.data, `event ${i}`), `event ${i}`);
    assert(
      data.type === ev.event,
      `event ${i}: event name "${ev.event}" differs from data.type ${JSON.stringify(data.type)}`,
    );
    return { name: ev.event, data };
  });
  assert(events[0].name === 'message_start', 'the first event must be message_start');
  const start = obj(events[0].data.message, 'message_start.message');
  assert(
    arr(start.content, 'message_start.message.content').length === 0,
    'message_start has empty content',
  );
  assert(start.stop_reason === null, 'message_start has stop_reason null');

  const blocks: Obj[] = [];
  const partialJson: string[] = [];
  let open: number | null = null;
  let stop: string | undefined;
  let stopped = false;
  let error: Obj | undefined;
  events.slice(1).forEach(({ name, data }, k) => {
    const i = k + 1;
    assert(!stopped, `event ${i} (${name}) after message_stop`);
    assert(error === undefined, `event ${i} (${name}) after an error event`);
    switch (name) {
      case 'ping':
        break;
      case 'content_block_start': {
        assert(stop === undefined, `event ${i}: content_block_start after message_delta`);
        assert(open === null, `event ${i}: block ${open ?? ''} is still open`);
        const index = num(data.index, `event ${i}.index`);
        assert(
          index === blocks.length,
          `event ${i}: block index ${index}, expected ${blocks.length}`,
        );
        const block = { ...obj(data.content_block, `event ${i}.content_block`) };
        assert(
          typeof block.type === 'string' && block.type in ANTHROPIC_DELTAS,
          `event ${i}: unknown block type ${JSON.stringify(block.type)}`,
        );
        blocks.push(block);
        partialJson.push('');
        open = index;
        break;
      }
      case 'content_block_delta': {
        const index = num(data.index, `event ${i}.index`);
        assert(
          open === index,
          `event ${i}: delta for block ${index}, but the open block is ${open ?? 'none'}`,
        );
        const block = blocks[index];
        const delta = obj(data.delta, `event ${i}.delta`);
        assert(
          ANTHROPIC_DELTAS[str(block.type, 'block.type')].includes(
            str(delta.type, `event ${i}.delta.type`),
          ),
          `event ${i}: ${JSON.stringify(delta.type)} in a ${JSON.stringify(block.type)} block`,
        );
        if (delta.type === 'text_delta') {
          block.text = str(block.text, 'text') + str(delta.text, `event ${i}.delta.text`);
        } else if (delta.type === 'input_json_delta') {
          partialJson[index] += str(delta.partial_json, `event ${i}.delta.partial_json`);
        } else if (delta.type === 'thinking_delta') {
          block.thinking =
            str(block.thinking, 'thinking') + str(delta.thinking, `event ${i}.delta.thinking`);
        } else if (delta.type === 'signature_delta') {
          block.signature = str(delta.signature, `event ${i}.delta.signature`);
        }
        break;
      }
      case 'content_block_stop': {
        const index = num(data.index, `event ${i}.index`);
        assert(
          open === index,
          `event ${i}: stop for block ${index}, but the open block is ${open ?? 'none'}`,
        );
        const block = blocks[index];
        if (block.type === 'tool_use' && partialJson[index] !== '') {
          block.input = parseArgs(partialJson[index], `tool_use block ${index}`);
        }
        open = null;
        break;
      }
      case 'message_delta': {
        assert(open === null, `event ${i}: message_delta while block ${open ?? ''} is open`);
        assert(stop === undefined, `event ${i}: a second message_delta with a stop_reason`);
        stop = str(at(data, 'delta.stop_reason'), `event ${i}.delta.stop_reason`);
        obj(data.usage, `event ${i}.usage`);
        break;
      }
      case 'message_stop':
        assert(stop !== undefined, `event ${i}: message_stop before message_delta`);
        stopped = true;
        break;
      case 'error':
        assert(opts.failed, `event ${i}: an error event in a stream that should complete`);
        error = obj(data.error, `event ${i}.error`);
        break;
      default:
        throw new Error(`event ${i}: unexpected event ${name}`);
    }
  });
  if (opts.failed) {
    assert(error !== undefined, 'the failed stream must end with an error event');
  } else {
    assert(stopped, 'the last event must be message_stop');
  }
  const out = empty();
  anthropicBlocks(blocks, 'streamed blocks', out);
  out.stop = stop ?? '';
  // message_delta.usage holds the cumulative counts; message_start's usage the initial ones.
  const delta = events.find((e) => e.name === 'message_delta');
  out.usage = {
    ...obj(start.usage, 'message_start usage'),
    ...(delta ? obj(delta.data.usage, 'usage') : {}),
  };
  return { ...out, error };
}

// --- Gemini generateContent ---------------------------------------------------------------------

function geminiCandidate(body: unknown, where: string, out: Extracted): string | undefined {
  const b = obj(body, where);
  const cand = obj(at(b, 'candidates.0'), `${where}.candidates[0]`);
  const content = obj(cand.content, `${where}.content`);
  assert(content.role === 'model', `${where}: content.role must be "model"`);
  arr(content.parts, `${where}.parts`).forEach((raw, i) => {
    const part = obj(raw, `${where}.parts[${i}]`);
    if (part.functionCall !== undefined) {
      const fc = obj(part.functionCall, `${where}.parts[${i}].functionCall`);
      out.toolCalls.push({
        name: str(fc.name, 'functionCall.name'),
        args: obj(fc.args, 'functionCall.args'),
      });
    } else if (part.thought === true) {
      out.reasoning += str(part.text, `${where}.parts[${i}].text`);
    } else {
      out.text += str(part.text, `${where}.parts[${i}].text`);
    }
    if (part.thoughtSignature !== undefined) {
      out.signatures.push(str(part.thoughtSignature, `${where}.parts[${i}].thoughtSignature`));
    }
  });
  assert(b.usageMetadata === undefined || isObj(b.usageMetadata), `${where}.usageMetadata`);
  return cand.finishReason === undefined
    ? undefined
    : str(cand.finishReason, `${where}.finishReason`);
}

function geminiResponse(body: unknown): Extracted {
  const out = empty();
  out.stop = geminiCandidate(body, 'response', out) ?? '';
  out.usage = obj(at(body, 'usageMetadata'), 'usageMetadata');
  return out;
}

function geminiStream(raw: string): Extracted {
  const events = parseSse(raw);
  assert(!events.some((ev) => ev.data === '[DONE]'), 'Gemini streams have no [DONE] marker');
  const out = empty();
  events.forEach((ev, i) => {
    assert(ev.event === undefined, `chunk ${i}: Gemini chunks carry no event: line`);
    const body = parseJson(ev.data, `chunk ${i}`);
    const finish = geminiCandidate(body, `chunk ${i}`, out);
    const last = i === events.length - 1;
    assert(
      last === (finish !== undefined),
      `chunk ${i}: finishReason belongs on the last chunk only`,
    );
    if (last) {
      out.stop = finish ?? '';
      out.usage = obj(at(body, 'usageMetadata'), 'last chunk usageMetadata');
    }
  });
  return out;
}

// --- OpenAI Responses ---------------------------------------------------------------------------

function responsesOutput(output: unknown[], where: string, out: Extracted): void {
  output.forEach((raw, i) => {
    const item = obj(raw, `${where}[${i}]`);
    switch (item.type) {
      case 'message':
        assert(item.role === 'assistant', `${where}[${i}].role must be assistant`);
        for (const part of arr(item.content, `${where}[${i}].content`)) {
          const p = obj(part, `${where}[${i}].content[]`);
          assert(
            p.type === 'output_text',
            `${where}[${i}]: unexpected part ${JSON.stringify(p.type)}`,
          );
          out.text += str(p.text, `${where}[${i}].content[].text`);
        }
        break;
      case 'function_call':
        assert(
          str(item.call_id, `${where}[${i}].call_id`).startsWith('call_'),
          'call ids start with call_',
        );
        assert(
          str(item.id, `${where}[${i}].id`).startsWith('fc_'),
          'function_call item ids start with fc_',
        );
        out.toolCalls.push({
          name: str(item.name, `${where}[${i}].name`),
          args: parseArgs(str(item.arguments, `${where}[${i}].arguments`), `${where}[${i}]`),
        });
        break;
      case 'reasoning':
        for (const s of arr(item.summary, `${where}[${i}].summary`)) {
          out.reasoning += str(at(s, 'text'), `${where}[${i}].summary[].text`);
        }
        if (item.encrypted_content !== undefined) {
          out.signatures.push(str(item.encrypted_content, `${where}[${i}].encrypted_content`));
        }
        break;
      default:
        throw new Error(`${where}[${i}]: unexpected output item ${JSON.stringify(item.type)}`);
    }
  });
}

function responsesResponse(body: unknown): Extracted {
  const b = obj(body, 'response');
  assert(b.object === 'response', 'object must be "response"');
  assert(str(b.id, 'id').startsWith('resp_'), 'response ids start with resp_');
  const out = empty();
  responsesOutput(arr(b.output, 'output'), 'output', out);
  out.stop = str(b.status, 'status');
  out.usage = obj(b.usage, 'usage');
  return out;
}

/**
 * Validates the named-event stream (event name = type; sequence_number strictly increasing;
 * created, in_progress first; completed last; one output item open at a time; every delta for
 * the open item; each `.done` equal to its deltas; the completed response's output equal to the
 * `output_item.done` items) and reassembles text, reasoning and arguments from the deltas.
 */
function responsesStream(raw: string): Extracted {
  const events = parseSse(raw).map((ev, i) => {
    assert(ev.event !== undefined, `event ${i}: Responses events carry an event: line`);
    const data = obj(parseJson(ev.data, `event ${i}`), `event ${i}`);
    assert(
      data.type === ev.event,
      `event ${i}: event name "${ev.event}" differs from data.type ${JSON.stringify(data.type)}`,
    );
    return { name: ev.event, data };
  });
  let seq = -1;
  for (const [i, { data }] of events.entries()) {
    const n = num(data.sequence_number, `event ${i}.sequence_number`);
    assert(n > seq, `event ${i}: sequence_number ${n} does not increase (previous ${seq})`);
    seq = n;
  }
  assert(events[0].name === 'response.created', 'the first event must be response.created');
  assert(
    events[1]?.name === 'response.in_progress',
    'the second event must be response.in_progress',
  );
  assert(
    events[events.length - 1].name === 'response.completed',
    'the last event must be response.completed',
  );

  const out = empty();
  const doneItems: Obj[] = [];
  let open: { id: string; type: string; buf: string } | null = null;
  events.slice(2).forEach(({ name, data }, k) => {
    const i = k + 2;
    const where = `event ${i} (${name})`;
    if (name !== 'response.output_item.added' && name !== 'response.completed') {
      assert(open !== null, `${where}: no output item is open`);
      if (name !== 'response.output_item.done') {
        assert(data.item_id === open.id, `${where}: item_id is not the open item ${open.id}`);
      }
      assert(data.output_index === doneItems.length, `${where}: wrong output_index`);
    }
    switch (name) {
      case 'response.output_item.added': {
        assert(open === null, `${where}: item ${open?.id ?? ''} is still open`);
        assert(data.output_index === doneItems.length, `${where}: output_index out of order`);
        const item = obj(data.item, `${where}.item`);
        open = {
          id: str(item.id, `${where}.item.id`),
          type: str(item.type, `${where}.item.type`),
          buf: '',
        };
        break;
      }
      case 'response.content_part.added':
      case 'response.content_part.done':
      case 'response.reasoning_summary_part.added':
      case 'response.reasoning_summary_part.done':
        obj(data.part, `${where}.part`);
        break;
      case 'response.output_text.delta':
        assert(open?.type === 'message', `${where}: text delta outside a message item`);
        open.buf += str(data.delta, `${where}.delta`);
        out.text += str(data.delta, `${where}.delta`);
        break;
      case 'response.output_text.done':
        assert(data.text === open?.buf, `${where}: text differs from its deltas`);
        break;
      case 'response.function_call_arguments.delta':
        assert(open?.type === 'function_call', `${where}: arguments delta outside a function_call`);
        open.buf += str(data.delta, `${where}.delta`);
        break;
      case 'response.function_call_arguments.done':
        assert(data.arguments === open?.buf, `${where}: arguments differ from their deltas`);
        break;
      case 'response.reasoning_summary_text.delta':
        assert(open?.type === 'reasoning', `${where}: summary delta outside a reasoning item`);
        open.buf += str(data.delta, `${where}.delta`);
        out.reasoning += str(data.delta, `${where}.delta`);
        break;
      case 'response.reasoning_summary_text.done':
        assert(data.text === open?.buf, `${where}: summary text differs from its deltas`);
        break;
      case 'response.output_item.done': {
        const item = obj(data.item, `${where}.item`);
        assert(open !== null && item.id === open.id, `${where}: not the open item`);
        assert(item.type === open.type, `${where}: item type changed`);
        if (item.type === 'function_call') {
          assert(item.arguments === open.buf, `${where}: arguments differ from their deltas`);
          out.toolCalls.push({
            name: str(item.name, `${where}.item.name`),
            args: parseArgs(open.buf, `${where} arguments`),
          });
        }
        if (item.type === 'reasoning' && item.encrypted_content !== undefined) {
          out.signatures.push(str(item.encrypted_content, `${where}.item.encrypted_content`));
        }
        doneItems.push(item);
        open = null;
        break;
      }
      case 'response.completed': {
        assert(open === null, `${where}: item ${open?.id ?? ''} is still open`);
        const response = obj(data.response, `${where}.response`);
        expect(response.output).toEqual(doneItems);
        out.stop = str(response.status, `${where}.response.status`);
        out.usage = obj(response.usage, `${where}.response.usage`);
        break;
      }
      default:
        throw new Error(`${where}: unexpected event`);
    }
  });
  return out;
}

// --- Ollama /api/chat ---------------------------------------------------------------------------

function ollamaMessage(message: unknown, where: string, out: Extracted): void {
  const m = obj(message, where);
  assert(m.role === 'assistant', `${where}.role must be assistant`);
  out.text += str(m.content, `${where}.content`);
  if (m.thinking !== undefined) {
    out.reasoning += str(m.thinking, `${where}.thinking`);
  }
  for (const raw of m.tool_calls === undefined ? [] : arr(m.tool_calls, `${where}.tool_calls`)) {
    const fn = obj(at(raw, 'function'), `${where}.tool_calls[].function`);
    out.toolCalls.push({
      name: str(fn.name, `${where}.tool_calls[].function.name`),
      // Ollama sends arguments as an object, never as a JSON string.
      args: obj(fn.arguments, `${where}.tool_calls[].function.arguments`),
    });
  }
}

function ollamaFinal(b: Obj, where: string, out: Extracted): void {
  assert(b.done === true, `${where}: done must be true`);
  out.stop = str(b.done_reason, `${where}.done_reason`);
  for (const k of [
    'total_duration',
    'load_duration',
    'prompt_eval_count',
    'eval_count',
    'eval_duration',
  ]) {
    num(b[k], `${where}.${k}`);
  }
  out.usage = { prompt_eval_count: b.prompt_eval_count, eval_count: b.eval_count };
}

function ollamaResponse(body: unknown): Extracted {
  const b = obj(body, 'response');
  const out = empty();
  ollamaMessage(b.message, 'message', out);
  ollamaFinal(b, 'response', out);
  return out;
}

function ollamaStream(raw: string): Extracted {
  assert(raw.endsWith('\n'), 'NDJSON: the stream does not end with a line break');
  const lines = raw.slice(0, -1).split('\n');
  const out = empty();
  lines.forEach((line, i) => {
    assert(line.trim() !== '', `line ${i}: empty line`);
    const b = obj(parseJson(line, `line ${i}`), `line ${i}`);
    str(b.model, `line ${i}.model`);
    assert(
      !Number.isNaN(Date.parse(str(b.created_at, `line ${i}.created_at`))),
      `line ${i}: created_at`,
    );
    ollamaMessage(b.message, `line ${i}.message`, out);
    if (i === lines.length - 1) {
      ollamaFinal(b, `line ${i}`, out);
    } else {
      assert(b.done === false, `line ${i}: only the last line may be done`);
    }
  });
  return out;
}

const RESPONSE: Record<Dialect, (body: unknown) => Extracted> = {
  'openai-chat': openaiChatResponse,
  anthropic: anthropicResponse,
  gemini: geminiResponse,
  responses: responsesResponse,
  ollama: ollamaResponse,
};
const STREAM: Record<Dialect, (raw: string) => Extracted> = {
  'openai-chat': openaiChatStream,
  anthropic: (raw) => anthropicStream(raw),
  gemini: geminiStream,
  responses: responsesStream,
  ollama: ollamaStream,
};

// ------------------------------------------------------------------------------------------------
// Requests, in dialect-neutral terms.

interface Image {
  kind: 'url' | 'base64';
  value: string;
}
interface RequestInfo {
  system: string;
  turns: Turn[];
  tools: { name: string; params: string[] }[];
  images: Image[];
  thinking: boolean;
  streaming: boolean;
}

const role = (r: unknown, where: string): Turn['role'] => {
  assert(r === 'user' || r === 'assistant', `${where}: unexpected role ${JSON.stringify(r)}`);
  return r;
};
const dataUrl = /^data:image\/png;base64,(.+)$/;
function imageFromUrl(url: string): Image {
  const m = dataUrl.exec(url);
  return m ? { kind: 'base64', value: m[1] } : { kind: 'url', value: url };
}
const paramsOf = (schema: unknown, where: string): string[] =>
  Object.keys(obj(at(schema, 'properties'), `${where}.properties`));

function openaiChatRequest(body: unknown): RequestInfo {
  const b = obj(body, 'request');
  const info: RequestInfo = {
    system: '',
    turns: [],
    tools: [],
    images: [],
    thinking: false,
    streaming: false,
  };
  arr(b.messages, 'messages').forEach((raw, i) => {
    const m = obj(raw, `messages[${i}]`);
    if (m.role === 'system' || m.role === 'developer') {
      info.system += str(m.content, `messages[${i}].content`);
      return;
    }
    let text = '';
    if (typeof m.content === 'string') {
      text = m.content;
    } else {
      for (const p of arr(m.content, `messages[${i}].content`)) {
        const part = obj(p, `messages[${i}].content[]`);
        if (part.type === 'text') {
          text += str(part.text, 'text');
        } else {
          assert(part.type === 'image_url', `unexpected part ${JSON.stringify(part.type)}`);
          info.images.push(imageFromUrl(str(at(part, 'image_url.url'), 'image_url.url')));
        }
      }
    }
    info.turns.push({ role: role(m.role, `messages[${i}]`), text });
  });
  for (const [i, t] of (b.tools === undefined ? [] : arr(b.tools, 'tools')).entries()) {
    assert(at(t, 'type') === 'function', `tools[${i}].type`);
    info.tools.push({
      name: str(at(t, 'function.name'), `tools[${i}].function.name`),
      params: paramsOf(at(t, 'function.parameters'), `tools[${i}].function.parameters`),
    });
  }
  info.thinking = typeof b.reasoning_effort === 'string';
  info.streaming = b.stream === true && at(b, 'stream_options.include_usage') === true;
  return info;
}

function anthropicRequest(body: unknown): RequestInfo {
  const b = obj(body, 'request');
  const info: RequestInfo = {
    system: '',
    turns: [],
    tools: [],
    images: [],
    thinking: false,
    streaming: false,
  };
  if (typeof b.system === 'string') {
    info.system = b.system;
  } else if (b.system !== undefined) {
    for (const block of arr(b.system, 'system')) {
      assert(at(block, 'type') === 'text', 'system blocks are text blocks');
      info.system += str(at(block, 'text'), 'system[].text');
    }
  }
  arr(b.messages, 'messages').forEach((raw, i) => {
    const m = obj(raw, `messages[${i}]`);
    let text = '';
    if (typeof m.content === 'string') {
      text = m.content;
    } else {
      for (const p of arr(m.content, `messages[${i}].content`)) {
        const block = obj(p, `messages[${i}].content[]`);
        if (block.type === 'text') {
          text += str(block.text, 'text');
        } else {
          assert(block.type === 'image', `unexpected block ${JSON.stringify(block.type)}`);
          const source = obj(block.source, 'image.source');
          if (source.type === 'url') {
            info.images.push({ kind: 'url', value: str(source.url, 'source.url') });
          } else {
            assert(
              source.type === 'base64' && source.media_type === 'image/png',
              'base64 PNG source',
            );
            info.images.push({ kind: 'base64', value: str(source.data, 'source.data') });
          }
        }
      }
    }
    info.turns.push({ role: role(m.role, `messages[${i}]`), text });
  });
  for (const [i, t] of (b.tools === undefined ? [] : arr(b.tools, 'tools')).entries()) {
    info.tools.push({
      name: str(at(t, 'name'), `tools[${i}].name`),
      params: paramsOf(at(t, 'input_schema'), `tools[${i}].input_schema`),
    });
  }
  num(b.max_tokens, 'max_tokens');
  if (b.thinking !== undefined) {
    const budget = num(at(b, 'thinking.budget_tokens'), 'thinking.budget_tokens');
    assert(at(b, 'thinking.type') === 'enabled', 'thinking.type must be "enabled"');
    assert(
      budget >= 1024 && budget < num(b.max_tokens, 'max_tokens'),
      'budget in [1024, max_tokens)',
    );
    info.thinking = true;
  }
  info.streaming = b.stream === true;
  return info;
}

function geminiRequest(body: unknown): RequestInfo {
  const b = obj(body, 'request');
  const info: RequestInfo = {
    system: '',
    turns: [],
    tools: [],
    images: [],
    thinking: false,
    streaming: true,
  };
  if (b.systemInstruction !== undefined) {
    for (const p of arr(at(b, 'systemInstruction.parts'), 'systemInstruction.parts')) {
      info.system += str(at(p, 'text'), 'systemInstruction.parts[].text');
    }
  }
  arr(b.contents, 'contents').forEach((raw, i) => {
    const c = obj(raw, `contents[${i}]`);
    assert(c.role === 'user' || c.role === 'model', `contents[${i}].role must be user or model`);
    let text = '';
    for (const p of arr(c.parts, `contents[${i}].parts`)) {
      const part = obj(p, `contents[${i}].parts[]`);
      if (part.text !== undefined) {
        text += str(part.text, 'text');
      } else if (part.fileData !== undefined) {
        assert(at(part, 'fileData.mimeType') === 'image/png', 'fileData.mimeType');
        info.images.push({
          kind: 'url',
          value: str(at(part, 'fileData.fileUri'), 'fileData.fileUri'),
        });
      } else {
        assert(at(part, 'inlineData.mimeType') === 'image/png', 'inlineData.mimeType');
        info.images.push({
          kind: 'base64',
          value: str(at(part, 'inlineData.data'), 'inlineData.data'),
        });
      }
    }
    info.turns.push({ role: c.role === 'model' ? 'assistant' : 'user', text });
  });
  for (const tool of b.tools === undefined ? [] : arr(b.tools, 'tools')) {
    for (const [i, fd] of arr(at(tool, 'functionDeclarations'), 'functionDeclarations').entries()) {
      info.tools.push({
        name: str(at(fd, 'name'), `functionDeclarations[${i}].name`),
        params: paramsOf(at(fd, 'parameters'), `functionDeclarations[${i}].parameters`),
      });
    }
  }
  const thinkingConfig = at(b, 'generationConfig.thinkingConfig');
  info.thinking =
    at(thinkingConfig, 'includeThoughts') === true &&
    typeof at(thinkingConfig, 'thinkingBudget') === 'number';
  return info;
}

function responsesRequest(body: unknown): RequestInfo {
  const b = obj(body, 'request');
  const info: RequestInfo = {
    system: b.instructions === undefined ? '' : str(b.instructions, 'instructions'),
    turns: [],
    tools: [],
    images: [],
    thinking: false,
    streaming: b.stream === true,
  };
  arr(b.input, 'input').forEach((raw, i) => {
    const item = obj(raw, `input[${i}]`);
    assert(item.type === 'message', `input[${i}].type must be "message"`);
    let text = '';
    for (const p of arr(item.content, `input[${i}].content`)) {
      const part = obj(p, `input[${i}].content[]`);
      if (part.type === 'input_text' || part.type === 'output_text') {
        text += str(part.text, 'text');
      } else {
        assert(part.type === 'input_image', `unexpected part ${JSON.stringify(part.type)}`);
        info.images.push(imageFromUrl(str(part.image_url, 'input_image.image_url')));
      }
    }
    info.turns.push({ role: role(item.role, `input[${i}]`), text });
  });
  for (const [i, t] of (b.tools === undefined ? [] : arr(b.tools, 'tools')).entries()) {
    assert(at(t, 'type') === 'function', `tools[${i}].type`);
    info.tools.push({
      name: str(at(t, 'name'), `tools[${i}].name`),
      params: paramsOf(at(t, 'parameters'), `tools[${i}].parameters`),
    });
  }
  info.thinking =
    typeof at(b, 'reasoning.effort') === 'string' && typeof at(b, 'reasoning.summary') === 'string';
  return info;
}

function ollamaRequest(body: unknown): RequestInfo {
  const b = obj(body, 'request');
  const info: RequestInfo = {
    system: '',
    turns: [],
    tools: [],
    images: [],
    thinking: b.think === true,
    streaming: b.stream === true,
  };
  arr(b.messages, 'messages').forEach((raw, i) => {
    const m = obj(raw, `messages[${i}]`);
    if (m.role === 'system') {
      info.system += str(m.content, `messages[${i}].content`);
      return;
    }
    for (const img of m.images === undefined ? [] : arr(m.images, `messages[${i}].images`)) {
      info.images.push({ kind: 'base64', value: str(img, 'images[]') });
    }
    info.turns.push({ role: role(m.role, `messages[${i}]`), text: str(m.content, 'content') });
  });
  for (const [i, t] of (b.tools === undefined ? [] : arr(b.tools, 'tools')).entries()) {
    info.tools.push({
      name: str(at(t, 'function.name'), `tools[${i}].function.name`),
      params: paramsOf(at(t, 'function.parameters'), `tools[${i}].function.parameters`),
    });
  }
  return info;
}

const REQUEST: Record<Dialect, (body: unknown) => RequestInfo> = {
  'openai-chat': openaiChatRequest,
  anthropic: anthropicRequest,
  gemini: geminiRequest,
  responses: responsesRequest,
  ollama: ollamaRequest,
};

/** Usage fields each dialect must report, cached and reasoning tokens included. */
function checkUsage(dialect: Dialect, kase: Case, usage: Obj | undefined): void {
  const u = obj(usage, `${dialect} usage`);
  const n = (path: string): number => num(at(u, path), `${dialect} usage.${path}`);
  switch (dialect) {
    case 'openai-chat':
      n('prompt_tokens');
      n('completion_tokens');
      expect(n('total_tokens')).toBe(n('prompt_tokens') + n('completion_tokens'));
      n('prompt_tokens_details.cached_tokens');
      n('completion_tokens_details.reasoning_tokens');
      break;
    case 'anthropic':
      n('input_tokens');
      n('output_tokens');
      n('cache_creation_input_tokens');
      n('cache_read_input_tokens');
      break;
    case 'gemini':
      n('promptTokenCount');
      n('candidatesTokenCount');
      n('totalTokenCount');
      if (kase === 'thinking') {
        n('thoughtsTokenCount');
      }
      break;
    case 'responses':
      n('input_tokens');
      n('output_tokens');
      expect(n('total_tokens')).toBe(n('input_tokens') + n('output_tokens'));
      n('input_tokens_details.cached_tokens');
      n('output_tokens_details.reasoning_tokens');
      break;
    case 'ollama':
      n('prompt_eval_count');
      n('eval_count');
      break;
  }
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const isPng = (b64: string): boolean =>
  Buffer.from(b64, 'base64').subarray(0, 8).equals(PNG_MAGIC) &&
  Buffer.from(b64, 'base64').toString('base64') === b64;

const semantic = (e: Extracted): Pick<Extracted, 'text' | 'toolCalls'> => ({
  text: e.text,
  toolCalls: e.toolCalls,
});

// ------------------------------------------------------------------------------------------------

describe('dialect fixtures', () => {
  it('has exactly the expected files', () => {
    const expected = DIALECTS.flatMap((d) => [
      ...CASES.flatMap((c) => [
        `${d}/${c}.request.json`,
        `${d}/${c}.response.json`,
        streamFile(d, c),
      ]),
      ...(d === 'anthropic' ? ['anthropic/error.stream.sse'] : []),
    ]).sort();
    const actual = DIALECTS.flatMap((d) =>
      readdirSync(join(ROOT, d)).map((f) => `${d}/${f}`),
    ).sort();
    expect(actual).toEqual(expected);
    expect(readdirSync(ROOT).sort()).toEqual([...DIALECTS, 'README.md'].sort());
  });

  describe.each(DIALECTS)('%s', (dialect) => {
    describe.each(CASES)('%s', (kase) => {
      const scenario = SCENARIOS[kase];

      it('request parses and expresses the scenario', () => {
        const info = REQUEST[dialect](readJson(`${dialect}/${kase}.request.json`));
        expect(info.system).toBe(scenario.system);
        expect(info.turns).toEqual(scenario.turns);
        expect(info.tools).toEqual(scenario.tools);
        expect(info.thinking).toBe(scenario.thinking);
        expect(info.streaming).toBe(true);
        expect(info.images).toHaveLength(scenario.images);
        for (const img of info.images) {
          if (img.kind === 'base64') {
            expect(isPng(img.value)).toBe(true);
          } else {
            expect(img.value).toBe(IMAGE_URL);
          }
        }
        if (scenario.images > 0) {
          // The URL image first, then the inline one. Ollama takes base64 only, so there the
          // first image is the URL's bytes.
          expect(info.images.map((i) => i.kind)).toEqual(
            dialect === 'ollama' ? ['base64', 'base64'] : ['url', 'base64'],
          );
        }
      });

      it('response parses and carries the scenario answer', () => {
        const res = RESPONSE[dialect](readJson(`${dialect}/${kase}.response.json`));
        expect(semantic(res)).toEqual({ text: scenario.answer, toolCalls: scenario.toolCalls });
        expect(res.stop).toBe(STOP[dialect][kase]);
        checkUsage(dialect, kase, res.usage);
        if (scenario.thinking) {
          expect(res.reasoning.length).toBeGreaterThan(0);
        }
      });

      it('stream is well-formed and reassembles to the non-stream response', () => {
        const res = RESPONSE[dialect](readJson(`${dialect}/${kase}.response.json`));
        const stream = STREAM[dialect](read(streamFile(dialect, kase)));
        expect(semantic(stream)).toEqual(semantic(res));
        expect(stream.reasoning).toBe(res.reasoning);
        expect(stream.stop).toBe(res.stop);
        expect(stream.signatures.length).toBe(res.signatures.length);
        for (const s of stream.signatures) {
          expect(s.length).toBeGreaterThan(0);
        }
        checkUsage(dialect, kase, stream.usage);
      });
    });
  });

  describe.each(CASES)('all dialects agree on %s', (kase) => {
    it('same answer text and tool calls in every response and stream', () => {
      const seen = DIALECTS.flatMap((d) => [
        {
          file: `${d}/${kase}.response.json`,
          ...semantic(RESPONSE[d](readJson(`${d}/${kase}.response.json`))),
        },
        { file: streamFile(d, kase), ...semantic(STREAM[d](read(streamFile(d, kase)))) },
      ]);
      for (const s of seen) {
        expect({ file: s.file, text: s.text, toolCalls: s.toolCalls }).toEqual({
          file: s.file,
          text: seen[0].text,
          toolCalls: seen[0].toolCalls,
        });
      }
    });
  });

  describe('dialect-specific shapes', () => {
    it('OpenAI tool-call argument deltas arrive in several pieces per call', () => {
      const events = parseSse(read('openai-chat/parallel-tool-calls.stream.sse')).slice(0, -1);
      const pieces = [0, 1].map(
        (idx) =>
          events.filter((e) => {
            const calls = at(parseJson(e.data, 'chunk'), 'choices.0.delta.tool_calls');
            return (
              Array.isArray(calls) &&
              calls.some((c) => at(c, 'index') === idx && at(c, 'function.arguments') !== '')
            );
          }).length,
      );
      expect(pieces[0]).toBeGreaterThan(2);
      expect(pieces[1]).toBeGreaterThan(2);
    });

    it('DeepSeek-style thinking stream: reasoning_content first, then content, usage on the last chunk', () => {
      const raw = read('openai-chat/thinking.stream.sse');
      expect(raw.startsWith(': keep-alive\n\n')).toBe(true);
      const chunks = parseSse(raw)
        .slice(0, -1)
        .map((e) => obj(parseJson(e.data, 'chunk'), 'chunk'));
      const kinds = chunks.map((c) =>
        typeof at(c, 'choices.0.delta.reasoning_content') === 'string' &&
        at(c, 'choices.0.delta.reasoning_content') !== ''
          ? 'r'
          : typeof at(c, 'choices.0.delta.content') === 'string' &&
              at(c, 'choices.0.delta.content') !== ''
            ? 'c'
            : '-',
      );
      expect(kinds.join('').replace(/-/g, '')).toMatch(/^r+c+$/);
      expect(chunks[chunks.length - 1].usage).toBeDefined();
    });

    it('Anthropic thinking stream has thinking (with signature_delta), redacted_thinking, then text', () => {
      const raw = read('anthropic/thinking.stream.sse');
      const starts = parseSse(raw)
        .filter((e) => e.event === 'content_block_start')
        .map((e) => at(parseJson(e.data, 'event'), 'content_block.type'));
      expect(starts).toEqual(['thinking', 'redacted_thinking', 'text']);
      expect(raw).toContain('"type":"signature_delta"');
      expect(parseSse(raw).some((e) => e.event === 'ping')).toBe(true);
    });

    it('Anthropic requests show system as a string and as blocks with cache_control', () => {
      expect(typeof at(readJson('anthropic/text.request.json'), 'system')).toBe('string');
      expect(
        at(readJson('anthropic/parallel-tool-calls.request.json'), 'system.0.cache_control'),
      ).toEqual({
        type: 'ephemeral',
      });
    });

    it('Anthropic error stream ends with an overloaded_error event and no message_stop', () => {
      const res = anthropicStream(read('anthropic/error.stream.sse'), { failed: true });
      expect(res.error).toEqual({ type: 'overloaded_error', message: 'Overloaded' });
      expect(SCENARIOS.text.answer.startsWith(res.text)).toBe(true);
      expect(res.text.length).toBeGreaterThan(0);
      expect(() => anthropicStream(read('anthropic/error.stream.sse'))).toThrow(/error event/);
    });

    it('Gemini tool parameters use the OpenAPI-subset schema (upper-case types, no JSON-Schema extras)', () => {
      const walk = (schema: unknown, where: string): void => {
        const s = obj(schema, where);
        expect(str(s.type, `${where}.type`)).toMatch(
          /^(OBJECT|STRING|NUMBER|INTEGER|BOOLEAN|ARRAY)$/,
        );
        for (const k of ['$schema', '$ref', 'additionalProperties']) {
          expect(s[k]).toBeUndefined();
        }
        if (s.properties !== undefined) {
          for (const [k, v] of Object.entries(obj(s.properties, `${where}.properties`))) {
            walk(v, `${where}.${k}`);
          }
        }
      };
      const decls = arr(
        at(readJson('gemini/parallel-tool-calls.request.json'), 'tools.0.functionDeclarations'),
        'decls',
      );
      decls.forEach((d, i) => walk(at(d, 'parameters'), `functionDeclarations[${i}]`));
    });

    it('Gemini streams use CRLF event separators and carry the thought signature', () => {
      for (const c of CASES) {
        const raw = read(`gemini/${c}.stream.sse`);
        expect(raw.endsWith('\r\n\r\n')).toBe(true);
        expect(raw.replace(/\r\n/g, '')).not.toContain('\n');
      }
      expect(geminiStream(read('gemini/parallel-tool-calls.stream.sse')).signatures).toHaveLength(
        1,
      );
      expect(geminiStream(read('gemini/thinking.stream.sse')).signatures).toHaveLength(1);
    });

    it('Responses streams emit the documented event sequence', () => {
      const names = (c: Case): string[] =>
        parseSse(read(`responses/${c}.stream.sse`)).map((e) => e.event ?? '');
      const uniq = (xs: string[]): string[] => xs.filter((x, i) => x !== xs[i - 1]);
      expect(uniq(names('text'))).toEqual([
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ]);
      expect(names('parallel-tool-calls')).toContain('response.function_call_arguments.delta');
      expect(names('parallel-tool-calls')).toContain('response.function_call_arguments.done');
      expect(names('thinking')).toContain('response.reasoning_summary_text.delta');
    });

    it('Ollama streams tool calls as whole objects and thinking in message.thinking', () => {
      const lines = read('ollama/parallel-tool-calls.stream.ndjson').trimEnd().split('\n');
      const withCalls = lines.filter((l) =>
        Array.isArray(at(parseJson(l, 'line'), 'message.tool_calls')),
      );
      expect(withCalls).toHaveLength(2);
      const thinking = read('ollama/thinking.stream.ndjson')
        .trimEnd()
        .split('\n')
        .filter((l) => typeof at(parseJson(l, 'line'), 'message.thinking') === 'string');
      expect(thinking.length).toBeGreaterThan(1);
    });
  });

  describe('the validators reject broken fixtures', () => {
    const anthropicText = read('anthropic/text.stream.sse');
    const responsesText = read('responses/text.stream.sse');
    const openaiPar = read('openai-chat/parallel-tool-calls.stream.sse');

    it('SSE: an unterminated last event', () => {
      expect(() => parseSse(anthropicText.replace(/\n\n$/, '\n'))).toThrow(/not terminated/);
      expect(() => parseSse('data: {}')).toThrow(/line break/);
    });

    it('Anthropic: missing message_stop, event name mismatch, delta outside its block', () => {
      expect(() =>
        anthropicStream(anthropicText.replace(/event: message_stop\n[^\n]*\n\n$/, '')),
      ).toThrow(/message_stop/);
      expect(() =>
        anthropicStream(
          anthropicText.replace('event: content_block_stop', 'event: content_block_delta'),
        ),
      ).toThrow(/differs from data.type/);
      const events = anthropicText.split('\n\n');
      const firstStop = events.findIndex((e) => e.startsWith('event: content_block_stop'));
      const swapped = [...events];
      [swapped[firstStop - 1], swapped[firstStop]] = [swapped[firstStop], swapped[firstStop - 1]];
      expect(() => anthropicStream(swapped.join('\n\n'))).toThrow(/open block/);
    });

    it('Responses: a repeated sequence_number, a missing response.completed', () => {
      expect(() =>
        responsesStream(responsesText.replace('"sequence_number":3}', '"sequence_number":2}')),
      ).toThrow(/does not increase/);
      expect(() =>
        responsesStream(responsesText.replace(/event: response\.completed\n[^\n]*\n\n$/, '')),
      ).toThrow(/response\.completed/);
    });

    it('OpenAI: no [DONE], a corrupted argument fragment', () => {
      expect(() => openaiChatStream(openaiPar.replace('data: [DONE]\n\n', ''))).toThrow(/\[DONE\]/);
      expect(() =>
        openaiChatStream(openaiPar.replace('"arguments":"elsius"', '"arguments":"elsius\\""')),
      ).toThrow(/invalid JSON/);
    });

    it('Gemini: a [DONE] marker; Ollama: a stream without its done line', () => {
      expect(() => geminiStream(read('gemini/text.stream.sse') + 'data: [DONE]\r\n\r\n')).toThrow(
        /\[DONE\]/,
      );
      const ndjson = read('ollama/text.stream.ndjson');
      expect(() => ollamaStream(ndjson.replace(/[^\n]*\n$/, ''))).toThrow(/done/);
    });

    it('the scenario check notices a changed answer', () => {
      const body = obj(readJson('ollama/text.response.json'), 'body');
      const changed = { ...body, message: { role: 'assistant', content: 'Paris.' } };
      expect(semantic(ollamaResponse(changed))).not.toEqual({
        text: SCENARIOS.text.answer,
        toolCalls: [],
      });
    });
  });
});
