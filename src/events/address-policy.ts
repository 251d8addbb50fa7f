import { BlockList, isIP } from 'node:net';

/**
 * Which addresses a webhook may reach. Loopback, private, link-local
 * (cloud metadata lives there), shared, multicast and reserved ranges are
 * refused, in IPv4, in IPv6, and in IPv6 forms that embed an IPv4 address
 * (mapped, NAT64, 6to4), unless an allow-list entry names them.
 */
const FORBIDDEN_V4: readonly [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

const FORBIDDEN_V6: readonly [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
];

const forbidden = new BlockList();
for (const [network, prefix] of FORBIDDEN_V4) {
  forbidden.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of FORBIDDEN_V6) {
  forbidden.addSubnet(network, prefix, 'ipv6');
}

export class AddressPolicy {
  private readonly allowedNetworks = new BlockList();
  private readonly allowedHosts = new Set<string>();

  /** Entries are host names, addresses, or CIDR ranges (`127.0.0.1`, `10.0.0.0/8`, `::1`, `hooks.internal`). */
  constructor(allowList: readonly string[]) {
    for (const entry of allowList) {
      const [address, prefix] = entry.split('/');
      const family = isIP(address ?? '');
      if (family === 0) {
        this.allowedHosts.add(entry.toLowerCase());
      } else if (prefix === undefined) {
        this.allowedNetworks.addAddress(address!, family === 4 ? 'ipv4' : 'ipv6');
      } else {
        this.allowedNetworks.addSubnet(address!, Number(prefix), family === 4 ? 'ipv4' : 'ipv6');
      }
    }
  }

  isHostAllowListed(host: string): boolean {
    return this.allowedHosts.has(host.toLowerCase());
  }

  /** Whether a resolved address may be connected to. */
  permits(address: string, host?: string): boolean {
    if (host !== undefined && this.isHostAllowListed(host)) {
      return true;
    }
    const family = isIP(address);
    if (family === 0) {
      return false;
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.allowedNetworks.check(address, type)) {
      return true;
    }
    if (family === 6) {
      const embedded = embeddedIpv4(address);
      if (embedded !== undefined) {
        return this.allowedNetworks.check(embedded, 'ipv4') || !forbidden.check(embedded, 'ipv4');
      }
    }

    return !forbidden.check(address, type);
  }
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address. */
export function embeddedIpv4(address: string): string | undefined {
  const groups = expandIpv6(address);
  if (groups === undefined) {
    return undefined;
  }
  const mapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  const nat64 =
    groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((group) => group === 0);
  if (mapped || nat64) {
    return toIpv4(groups[6]!, groups[7]!);
  }
  if (groups[0] === 0x2002) {
    return toIpv4(groups[1]!, groups[2]!);
  }

  return undefined;
}

function toIpv4(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** Eight 16-bit groups, with `::` and a dotted IPv4 tail expanded. */
function expandIpv6(address: string): number[] | undefined {
  let text = address
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .split('%')[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    const octets = dotted[1]!.split('.').map(Number);
    text = `${text.slice(0, -dotted[1]!.length)}${((octets[0]! << 8) | octets[1]!).toString(16)}:${((octets[2]! << 8) | octets[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const parse = (part: string | undefined) =>
    part === undefined || part === ''
      ? []
      : part.split(':').map((group) => Number.parseInt(group, 16));
  const start = parse(head);
  const end = parse(tail);
  const groups =
    tail === undefined
      ? start
      : [...start, ...Array<number>(8 - start.length - end.length).fill(0), ...end];

  return groups.length === 8 &&
    groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff)
    ? groups
    : undefined;
}

/** Checks a webhook URL's form; addresses are checked when its host is resolved. */
export function checkWebhookUrl(
  value: string,
  requireHttps: boolean,
): { url: URL } | { problem: string } {
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f\s]/.test(value)) {
    return { problem: 'the URL contains whitespace or control characters' };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { problem: 'not a valid absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { problem: 'only http and https URLs are allowed' };
  }
  if (requireHttps && url.protocol !== 'https:') {
    return { problem: 'this server requires https webhook URLs' };
  }
  if (url.username !== '' || url.password !== '') {
    return { problem: 'the URL must not carry credentials' };
  }
  if (url.hostname === '') {
    return { problem: 'the URL has no host' };
  }

  return { url };
}
