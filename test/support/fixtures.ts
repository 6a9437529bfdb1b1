import { startTestApp, type StartOptions, type TestApp } from './app';
import { startMockUpstream, type MockUpstream, type MockUpstreamOptions } from './mock-upstream';

/**
 * A stand-in for an object that exists only once `beforeAll` has run: every property read is
 * forwarded to `get()` (methods bound to the real object). Lets a describe body write
 * `const { gw, mock } = useGateway()` and use `gw.url` in its tests.
 */
function lazy<T extends object>(get: () => T): T {
  return new Proxy({} as T, {
    get(_target, prop) {
      const real = get();
      const value: unknown = Reflect.get(real, prop, real);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(real)
        : value;
    },
  });
}

export interface GatewayFixture {
  readonly gw: TestApp;
  readonly mock: MockUpstream;
}

/**
 * Starts a mock upstream (unless `mock: false`) and then the app in `beforeAll`, closes both in
 * `afterAll`. Call it in a describe body; hooks registered after it run after the start and, for
 * `afterAll`, after the close.
 */
export function useGateway(
  opts: { app?: StartOptions; mock?: MockUpstreamOptions | false } = {},
): GatewayFixture {
  let gw: TestApp | undefined;
  let mock: MockUpstream | undefined;
  beforeAll(async () => {
    if (opts.mock !== false) {
      mock = await startMockUpstream(opts.mock);
    }
    gw = await startTestApp(opts.app);
  });
  afterAll(async () => {
    await gw?.close();
    await mock?.close();
  });
  return {
    gw: lazy(() => {
      if (!gw) {
        throw new Error('useGateway(): the app is not started (used outside a test or hook?)');
      }
      return gw;
    }),
    mock: lazy(() => {
      if (!mock) {
        throw new Error(
          opts.mock === false
            ? 'useGateway({ mock: false }) starts no mock upstream'
            : 'useGateway(): the mock upstream is not started (used outside a test or hook?)',
        );
      }
      return mock;
    }),
  };
}
