import { MemoryKvStore } from '@/common/kv/memory-kv.store';
import { POLICY_ADMIT, POLICY_SETTLE } from './policy-scripts';
import { describePolicyScriptsContract } from './policy-scripts.contract';

describePolicyScriptsContract('MemoryKvStore', () => new MemoryKvStore());

describe('policy scripts', () => {
  it('return cjson-encoded JSON from their Lua and declare no globals', () => {
    for (const s of [POLICY_ADMIT, POLICY_SETTLE]) {
      expect(s.lua).toMatch(/return cjson\.encode\(/);
      // Redis refuses scripts that assign globals: every top-level name is declared local.
      expect(s.lua).not.toMatch(/^[A-Za-z_][A-Za-z0-9_]*\s*=[^=]/m);
    }
    expect(POLICY_ADMIT.name).not.toBe(POLICY_SETTLE.name);
  });
});
