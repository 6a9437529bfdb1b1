export interface Deadline {
  /** performance.now() at which it fires. */
  readonly at: number;
  readonly fire: () => void;
}

/**
 * Request deadlines (the total timeout) checked by one shared timer every `tickMs`, instead of a
 * timer armed and cleared per request: on the hot path that is a Set insert and delete. A deadline
 * fires at most `tickMs` late, which is immaterial for timeouts measured in seconds. The timer runs
 * only while deadlines are pending (it stops on the first idle tick) and never keeps the process
 * alive.
 */
export class Deadlines {
  private readonly live = new Set<Deadline>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly tickMs = 50) {}

  add(at: number, fire: () => void): Deadline {
    const d = { at, fire };
    this.live.add(d);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
    return d;
  }

  remove(d: Deadline): void {
    this.live.delete(d);
  }

  get size(): number {
    return this.live.size;
  }

  private tick(): void {
    if (!this.live.size) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = performance.now();
    for (const d of this.live) {
      if (d.at <= now) {
        this.live.delete(d);
        d.fire();
      }
    }
  }
}
