import type { ServerResponse } from 'node:http';

export interface Beat {
  raw: ServerResponse;
  lastWrite: number;
}

/**
 * SSE comment heartbeats for every open stream from one shared timer: a stream silent for
 * `intervalMs` gets `: keepalive`, so proxies and clients don't cut a long upstream silence.
 */
export class Heartbeats {
  private readonly streams = new Set<Beat>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly intervalMs: number) {}

  add(raw: ServerResponse): Beat {
    const beat: Beat = { raw, lastWrite: Date.now() };
    this.streams.add(beat);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), Math.max(50, Math.floor(this.intervalMs / 2)));
      this.timer.unref();
    }
    return beat;
  }

  remove(beat: Beat): void {
    this.streams.delete(beat);
    if (!this.streams.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const b of this.streams) {
      if (now - b.lastWrite >= this.intervalMs && !b.raw.writableEnded) {
        b.raw.write(': keepalive\n\n');
        b.lastWrite = now;
      }
    }
  }
}
