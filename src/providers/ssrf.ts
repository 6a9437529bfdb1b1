import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8],
  ['fd00:ec2::', 32],
  ['64:ff9b::', 96], // NAT64: reaches IPv4 addresses, private ones too
  ['2001:db8::', 32],
] as const) {
  blocked.addSubnet(net, bits, 'ipv6');
}

/** True when an address is private, loopback, link-local, metadata or otherwise not public. */
export function isPrivateAddress(address: string): boolean {
  let a = address;
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) {
    a = a.slice(7);
  }
  const family = isIP(a);
  if (!family) {
    return true;
  }
  return blocked.check(a, family === 4 ? 'ipv4' : 'ipv6');
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * Checks a custom upstream base URL: http(s) only, no credentials in it, and every address its host
 * resolves to must be public unless private upstreams are allowed (API.md §2 SSRF). The upstream
 * client enforces the same rule again when it connects (DNS may change in between).
 */
export async function checkUpstreamUrl(raw: string, allowPrivate: boolean): Promise<UrlCheck> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'baseUrl is not a valid URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: 'baseUrl must use http or https' };
  }
  if (url.username || url.password) {
    return { ok: false, reason: 'baseUrl must not contain credentials' };
  }
  if (allowPrivate) {
    return { ok: true, url };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return { ok: false, reason: `baseUrl host ${host} does not resolve` };
  }
  const bad = addresses.find(isPrivateAddress);
  if (bad) {
    return {
      ok: false,
      reason: `baseUrl resolves to a private or reserved address (${bad}); set ALLOW_PRIVATE_UPSTREAMS=true to allow local upstreams`,
    };
  }
  return { ok: true, url };
}
