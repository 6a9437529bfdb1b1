import type { KvScript } from '@/common/kv/kv-store';
import { MemoryKvStore } from '@/common/kv/memory-kv.store';
import { describeKvScriptsContract } from './kv-scripts.contract';
import * as scripts from './kv-scripts';

describeKvScriptsContract('MemoryKvStore', () => new MemoryKvStore());

describe('kv-scripts', () => {
  const all = Object.values(scripts as Record<string, unknown>).filter(
    (v): v is KvScript<unknown> => typeof v === 'object' && v !== null && 'lua' in v,
  );

  it('exports the seven resilience scripts under distinct names', () => {
    expect(all.map((s) => s.name).sort()).toEqual([
      'breaker-failure',
      'breaker-probe',
      'breaker-success',
      'cooldown-failure',
      'latency-merge',
      'pick-least-used',
      'pick-lru',
      'rate-acquire',
    ]);
  });

  it('returns cjson-encoded JSON from every Lua body and declares no globals', () => {
    for (const s of all) {
      expect(s.lua).toMatch(/return cjson\.encode\(|return rec\b/);
      // Redis refuses scripts that assign globals: every top-level name is declared local.
      expect(s.lua).not.toMatch(/^[A-Za-z_][A-Za-z0-9_]*\s*=[^=]/m);
    }
  });
});
