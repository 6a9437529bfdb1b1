import { StringDecoder } from 'node:string_decoder';

/**
 * Receives one dispatched SSE event: its `event:` name (`''` when none was given) and its `data:`
 * lines joined by `\n`; called only for events that had at least one `data:` line. Returns `true`
 * when nothing more is to be read (the stream is over): the reader then drops what is left.
 */
export type SseEventHandler<T> = (name: string, data: string, out: T) => boolean;

/**
 * The line layer of a Server-Sent Events stream, shared by the SSE stream decoders: UTF-8 decoding
 * across chunks (StringDecoder), line ends CRLF, LF or a lone CR (a CR at the very end of a chunk
 * may be the first half of a CRLF, so it waits for the next chunk), `:` comments, the `event:` and
 * `data:` fields (one leading space of the value dropped, other fields ignored) and dispatch on a
 * blank line. Holds no per-event arrays: `data:` lines are joined as they come.
 */
export class SseReader<T> {
  private readonly utf8 = new StringDecoder('utf8');
  private buf = '';
  private name = '';
  private data = '';
  private hasData = false;
  private stopped = false;

  constructor(private readonly onEvent: SseEventHandler<T>) {}

  /** Reads a chunk of bytes, dispatching every event it completes. */
  push(chunk: Buffer, out: T): void {
    if (this.stopped) {
      return;
    }
    this.buf += this.utf8.write(chunk);
    this.lines(out, false);
  }

  /** End of the bytes: reads the last line, then dispatches a last event that lacked its blank line. */
  end(out: T): void {
    if (this.stopped) {
      return;
    }
    this.buf += this.utf8.end();
    this.lines(out, true);
    if (!this.stopped && this.hasData) {
      this.dispatch(out);
    }
  }

  private lines(out: T, final: boolean): void {
    const buf = this.buf;
    const last = buf.length - 1;
    let start = 0;
    let cr = buf.indexOf('\r');
    let lf = buf.indexOf('\n');
    while (!this.stopped) {
      // The next CR and LF at or after `start`, searched again only once passed (linear per chunk).
      if (cr >= 0 && cr < start) {
        cr = buf.indexOf('\r', start);
      }
      if (lf >= 0 && lf < start) {
        lf = buf.indexOf('\n', start);
      }
      const from = start;
      let to: number;
      if (cr >= 0 && (lf < 0 || cr < lf)) {
        if (cr === last && !final) {
          break; // a CR at the very end may be the first half of a CRLF: wait for the next chunk
        }
        to = cr;
        start = lf === cr + 1 ? cr + 2 : cr + 1;
      } else if (lf >= 0) {
        to = lf;
        start = lf + 1;
      } else {
        break;
      }
      this.line(buf.slice(from, to), out);
    }
    if (this.stopped) {
      this.buf = '';
      return;
    }
    this.buf = start === 0 ? buf : buf.slice(start);
    if (final && this.buf !== '') {
      const rest = this.buf;
      this.buf = '';
      this.line(rest, out);
    }
  }

  private line(line: string, out: T): void {
    if (line === '') {
      if (this.hasData) {
        this.dispatch(out);
      } else {
        this.name = '';
      }
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) {
      return; // comment, e.g. a keep-alive
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    if (field !== 'data' && field !== 'event') {
      return;
    }
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* space */) {
      value = value.slice(1);
    }
    if (field === 'event') {
      this.name = value;
    } else if (this.hasData) {
      this.data += `\n${value}`;
    } else {
      this.data = value;
      this.hasData = true;
    }
  }

  private dispatch(out: T): void {
    const name = this.name;
    const data = this.data;
    this.name = '';
    this.data = '';
    this.hasData = false;
    if (this.onEvent(name, data, out)) {
      this.stopped = true;
      this.buf = '';
    }
  }
}
