import { SseReader } from '@/gateway/dialects/shared/sse';

type Ev = [string, string];

function read(chunks: string[], stopAfter = Infinity): Ev[] {
  const out: Ev[] = [];
  const reader = new SseReader<Ev[]>((name, data, o) => {
    o.push([name, data]);
    return o.length >= stopAfter;
  });
  for (const c of chunks) {
    reader.push(Buffer.from(c), out);
  }
  reader.end(out);
  return out;
}

describe('SseReader', () => {
  it('reads events with CRLF, LF and lone CR line ends, comments and multi-line data', () => {
    expect(
      read([': hi\r\nevent: a\r\ndata: 1\r\n\r\n', 'data:2\ndata: 3\n\n', 'data: 4\r\r']),
    ).toEqual([
      ['a', '1'],
      ['', '2\n3'],
      ['', '4'],
    ]);
  });

  it('waits for the LF after a CR that ends a chunk', () => {
    expect(read(['data: 1\r', '\ndata: 2\r', '\n\r\n'])).toEqual([['', '1\n2']]);
  });

  it('takes a last event without its blank line, and a last line without its end', () => {
    expect(read(['data: 1\n\ndata: 2'])).toEqual([
      ['', '1'],
      ['', '2'],
    ]);
  });

  it('joins UTF-8 characters split across chunks', () => {
    const bytes = Buffer.from('data: é\n\n');
    const out: Ev[] = [];
    const reader = new SseReader<Ev[]>((name, data, o) => o.push([name, data]) < 0);
    reader.push(bytes.subarray(0, 7), out);
    reader.push(bytes.subarray(7), out);
    reader.end(out);
    expect(out).toEqual([['', 'é']]);
  });

  it('ignores events without data and resets the event name at a blank line', () => {
    expect(read(['event: x\n\ndata: 1\n\n', 'id: 3\nretry: 5\ndata\n\n'])).toEqual([
      ['', '1'],
      ['', ''],
    ]);
  });

  it('reads nothing more once the handler says stop', () => {
    expect(read(['data: 1\n\ndata: 2\n\n', 'data: 3\n\n'], 1)).toEqual([['', '1']]);
  });
});
