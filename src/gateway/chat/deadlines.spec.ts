import { Deadlines } from './deadlines';

describe(Deadlines.name, () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('fires a deadline on the first tick at or after its time, once', () => {
    const d = new Deadlines(50);
    const fired: string[] = [];
    d.add(performance.now() + 120, () => fired.push('a'));
    d.add(performance.now() + 10_000, () => fired.push('b'));
    jest.advanceTimersByTime(100);
    expect(fired).toEqual([]);
    jest.advanceTimersByTime(100);
    expect(fired).toEqual(['a']);
    jest.advanceTimersByTime(200);
    expect(fired).toEqual(['a']);
    expect(d.size).toBe(1);
  });

  it('never fires a removed deadline and stops its timer when idle', () => {
    const d = new Deadlines(50);
    const fire = jest.fn();
    const x = d.add(performance.now() + 60, fire);
    d.remove(x);
    jest.advanceTimersByTime(500);
    expect(fire).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('restarts its timer for a deadline added after it went idle', () => {
    const d = new Deadlines(50);
    jest.advanceTimersByTime(500);
    const fire = jest.fn();
    d.add(performance.now() + 10, fire);
    jest.advanceTimersByTime(60);
    expect(fire).toHaveBeenCalledTimes(1);
  });
});
