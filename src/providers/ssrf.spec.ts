import * as dns from 'node:dns/promises';
import { checkUpstreamUrl, isPrivateAddress } from './ssrf';

jest.mock('node:dns/promises', () => {
  const actual = jest.requireActual<typeof import('node:dns/promises')>('node:dns/promises');
  return { ...actual, lookup: jest.fn(actual.lookup) };
});

const lookup = dns.lookup as unknown as jest.Mock;

describe(isPrivateAddress.name, () => {
  it.each([
    ['10/8', '10.0.0.1'],
    ['10/8 upper end', '10.255.255.255'],
    ['172.16/12', '172.16.0.1'],
    ['172.16/12 upper end', '172.31.255.254'],
    ['192.168/16', '192.168.1.10'],
    ['127/8', '127.0.0.1'],
    ['127/8 not .1', '127.8.9.10'],
    ['cloud metadata', '169.254.169.254'],
    ['100.64/10 (CGNAT)', '100.64.0.1'],
    ['100.64/10 upper end', '100.127.255.255'],
    ['0.0.0.0', '0.0.0.0'],
    ['::1', '::1'],
    ['::', '::'],
    ['fc00::/7 (fc)', 'fc00::1'],
    ['fc00::/7 (fd)', 'fd12:3456:789a::1'],
    ['fe80::/10', 'fe80::1'],
    ['fe80::/10 upper end', 'febf::1'],
    ['IPv4-mapped 10/8', '::ffff:10.0.0.1'],
    ['IPv4-mapped loopback', '::ffff:127.0.0.1'],
    ['IPv4-mapped metadata in hex form', '::ffff:a9fe:a9fe'],
    ['multicast', '224.0.0.1'],
    ['IPv6 multicast', 'ff02::1'],
    ['AWS IPv6 metadata', 'fd00:ec2::254'],
    ['something that is not an IP', 'example.com'],
  ])('refuses %s (%s)', (_label, address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each([
    ['8.8.8.8', '8.8.8.8'],
    ['1.1.1.1', '1.1.1.1'],
    ['just outside 172.16/12', '172.32.0.1'],
    ['just below 172.16/12', '172.15.255.255'],
    ['just outside 100.64/10', '100.128.0.1'],
    ['just outside 192.168/16', '192.169.0.1'],
    ['2606:4700::1111', '2606:4700::1111'],
    ['IPv4-mapped public', '::ffff:8.8.8.8'],
  ])('accepts public %s (%s)', (_label, address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});

describe(checkUpstreamUrl.name, () => {
  afterEach(() => lookup.mockClear());

  it.each([
    ['ftp://example.com/v1', 'http or https'],
    ['file:///etc/passwd', 'http or https'],
    ['javascript:alert(1)', 'http or https'],
    ['gopher://127.0.0.1:6379/_PING', 'http or https'],
  ])('rejects the non-http(s) URL %s', async (url, reason) => {
    const r = await checkUpstreamUrl(url, true);
    expect(r).toEqual({ ok: false, reason: expect.stringContaining(reason) });
  });

  it.each(['https://user:pass@api.example.com/v1', 'https://user@api.example.com/v1'])(
    'rejects credentials in the URL %s even when private upstreams are allowed',
    async (url) => {
      const r = await checkUpstreamUrl(url, true);
      expect(r).toEqual({ ok: false, reason: expect.stringContaining('credentials') });
    },
  );

  it.each(['not a url', '', 'http://', '//example.com/v1'])(
    'rejects the invalid URL %j',
    async (url) => {
      const r = await checkUpstreamUrl(url, false);
      expect(r).toEqual({ ok: false, reason: expect.stringContaining('not a valid URL') });
    },
  );

  it.each([
    'http://10.0.0.5:8080/v1',
    'http://192.168.1.20/v1',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]:11434/v1',
    'http://[fd00::1]/v1',
    'http://[::ffff:10.0.0.1]/v1',
    'http://0.0.0.0:8080/v1',
    'http://2130706433/v1', // 127.0.0.1 as one decimal number
    'http://0x7f000001/v1', // 127.0.0.1 in hex
  ])('rejects the private IP literal in %s', async (url) => {
    const r = await checkUpstreamUrl(url, false);
    expect(r).toEqual({ ok: false, reason: expect.stringContaining('private or reserved') });
    expect(lookup).not.toHaveBeenCalled();
  });

  it('rejects localhost, which resolves to loopback', async () => {
    const r = await checkUpstreamUrl('http://localhost:11434/v1', false);
    expect(r).toEqual({
      ok: false,
      reason: expect.stringMatching(/private or reserved .*(127\.|::1)/),
    });
    expect(r.ok ? '' : r.reason).toContain('ALLOW_PRIVATE_UPSTREAMS');
  });

  it('accepts localhost when private upstreams are allowed', async () => {
    const r = await checkUpstreamUrl('http://localhost:11434/v1', true);
    expect(r.ok).toBe(true);
    expect(r.ok && r.url.host).toBe('localhost:11434');
  });

  it('accepts a public IP literal without a DNS lookup', async () => {
    const r = await checkUpstreamUrl('https://8.8.8.8/v1', false);
    expect(r.ok).toBe(true);
    expect(r.ok && r.url.href).toBe('https://8.8.8.8/v1');
    expect(lookup).not.toHaveBeenCalled();
  });

  it('accepts a public IPv6 literal', async () => {
    const r = await checkUpstreamUrl('https://[2606:4700::1111]/v1', false);
    expect(r.ok).toBe(true);
  });

  it('accepts a host name whose every address is public', async () => {
    lookup.mockResolvedValueOnce([
      { address: '104.18.6.192', family: 4 },
      { address: '2606:4700::6812:6c0', family: 6 },
    ]);
    const r = await checkUpstreamUrl('https://api.example.com/v1', false);
    expect(r.ok).toBe(true);
    expect(lookup).toHaveBeenCalledWith('api.example.com', { all: true });
  });

  it('rejects a host name when any of its addresses is private', async () => {
    lookup.mockResolvedValueOnce([
      { address: '104.18.6.192', family: 4 },
      { address: '10.1.2.3', family: 4 },
    ]);
    const r = await checkUpstreamUrl('https://rebind.example.com/v1', false);
    expect(r).toEqual({ ok: false, reason: expect.stringContaining('10.1.2.3') });
  });

  it('rejects a host name that does not resolve', async () => {
    lookup.mockRejectedValueOnce(
      Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }),
    );
    const r = await checkUpstreamUrl('https://nothing.invalid/v1', false);
    expect(r).toEqual({ ok: false, reason: expect.stringContaining('does not resolve') });
  });

  it('skips DNS entirely when private upstreams are allowed', async () => {
    const r = await checkUpstreamUrl('http://10.0.0.5:8080/v1', true);
    expect(r.ok).toBe(true);
    expect(lookup).not.toHaveBeenCalled();
  });
});
