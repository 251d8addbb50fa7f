import { domainToASCII } from 'node:url';

/**
 * JID parsing and normalization (RFC 7622).
 *
 * One function for every edge (REST, socket.io, admin, XMPP), so the same
 * address never has two spellings inside the server. The localpart follows
 * the UsernameCaseMapped profile (RFC 8265 section 3.3) as far as Node's
 * built-ins allow: NFC, then lower case; the domainpart is an IDNA
 * domain name in lower case (RFC 7622 section 3.2); the resourcepart is
 * NFC-normalized and otherwise kept as sent (OpaqueString, RFC 8265 section 4.2).
 */
export interface Jid {
  readonly local: string;
  readonly domain: string;
  readonly resource?: string;
}

export class JidError extends Error {
  constructor(
    readonly reason: string,
    readonly input: string,
  ) {
    super(`invalid JID: ${reason}`);
  }
}

/** RFC 7622 section 3.1: each part is at most 1023 octets. */
const MAX_PART_BYTES = 1023;

/** RFC 7622 section 3.3.1: characters the localpart may not contain. */
const FORBIDDEN_IN_LOCAL = /["&'/:<>@\s]/u;

/**
 * What the IdentifierClass of RFC 8264 (section 9) leaves out of a username:
 * controls, format characters (zero-width joiners and spaces, bidi
 * overrides), spaces, private use, surrogates and unassigned code points.
 */
const NOT_IDENTIFIER = /[\p{Cc}\p{Cf}\p{Zs}\p{Zl}\p{Zp}\p{Co}\p{Cs}\p{Cn}]/u;

/** Fullwidth and halfwidth forms, mapped to their ordinary forms first (RFC 8265 section 3.3.2, rule 1). */
const WIDTH_FORMS = /[\uff00-\uffef]/gu;

/** Control, surrogate and non-character code points, refused in every part. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_ANYWHERE = /[\u0000-\u001f\u007f-\u009f\ud800-\udfff\ufffe\uffff]/u;

export function parseJid(input: string): Jid {
  if (typeof input !== 'string' || input.length === 0) {
    throw new JidError('empty', String(input));
  }

  const slash = input.indexOf('/');
  const bare = slash === -1 ? input : input.slice(0, slash);
  const resource = slash === -1 ? undefined : input.slice(slash + 1);
  const at = bare.lastIndexOf('@');
  const local = at === -1 ? '' : bare.slice(0, at);
  const domain = at === -1 ? bare : bare.slice(at + 1);

  return {
    local: at === -1 ? '' : normalizeLocal(local, input),
    domain: normalizeDomain(domain, input),
    ...(resource === undefined ? {} : { resource: normalizeResource(resource, input) }),
  };
}

/** Parses a bare user address: a localpart is required and a resource refused. */
export function parseUserJid(input: string): Jid {
  const jid = parseJid(input);
  if (jid.local === '') {
    throw new JidError('a user address needs a localpart', input);
  }
  if (jid.resource !== undefined) {
    throw new JidError('a user address has no resource', input);
  }

  return jid;
}

export function normalizeLocal(local: string, input = local): string {
  if (local.length === 0) {
    throw new JidError('empty localpart', input);
  }
  const normalized = local
    .replace(WIDTH_FORMS, (character) => character.normalize('NFKC'))
    .toLowerCase()
    .normalize('NFC');
  assertPartSize(normalized, 'localpart', input);
  if (
    FORBIDDEN_IN_LOCAL.test(normalized) ||
    FORBIDDEN_ANYWHERE.test(normalized) ||
    NOT_IDENTIFIER.test(normalized)
  ) {
    throw new JidError('forbidden character in localpart', input);
  }

  return normalized;
}

export function normalizeDomain(domain: string, input = domain): string {
  // A trailing dot is stripped before comparison (RFC 7622 section 3.2).
  const trimmed = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  if (trimmed.length === 0) {
    throw new JidError('empty domainpart', input);
  }
  if (FORBIDDEN_ANYWHERE.test(trimmed) || /[\s@/]/u.test(trimmed)) {
    throw new JidError('forbidden character in domainpart', input);
  }
  const ipLiteral = /^\[[0-9a-f:.]+\]$/i.test(trimmed) || /^\d{1,3}(\.\d{1,3}){3}$/.test(trimmed);
  const ascii = ipLiteral ? trimmed.toLowerCase() : domainToASCII(trimmed.normalize('NFC'));
  if (ascii === '' || (!ipLiteral && !ascii.toLowerCase().split('.').every(isDomainLabel))) {
    throw new JidError('domainpart is not a valid domain name', input);
  }
  assertPartSize(ascii, 'domainpart', input);

  return ascii;
}

export function normalizeResource(resource: string, input = resource): string {
  if (resource.length === 0) {
    throw new JidError('empty resourcepart', input);
  }
  const normalized = resource.normalize('NFC');
  assertPartSize(normalized, 'resourcepart', input);
  if (FORBIDDEN_ANYWHERE.test(normalized)) {
    throw new JidError('forbidden character in resourcepart', input);
  }

  return normalized;
}

/** A DNS label in letters, digits and hyphens, 1 to 63 octets, no hyphen at either end (RFC 5890 section 2.3.1). */
function isDomainLabel(label: string): boolean {
  return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label);
}

function assertPartSize(part: string, name: string, input: string): void {
  if (Buffer.byteLength(part, 'utf8') > MAX_PART_BYTES) {
    throw new JidError(`${name} longer than ${MAX_PART_BYTES} bytes`, input);
  }
}

export function bareJid(jid: Jid): string {
  return jid.local === '' ? jid.domain : `${jid.local}@${jid.domain}`;
}

export function formatJid(jid: Jid): string {
  const bare = bareJid(jid);

  return jid.resource === undefined ? bare : `${bare}/${jid.resource}`;
}

/**
 * Spellings already normalized: every message names its recipient, and most
 * name the same few. Only everyday lengths are kept, so the cache stays small.
 */
const normalizedUserJids = new Map<string, string>();
const NORMALIZED_CACHE_MAX = 4096;
const NORMALIZED_CACHE_INPUT_MAX = 256;

/** Normalizes a bare user JID given as text; throws JidError when it is not one. */
export function normalizeUserJid(input: string): string {
  const known = normalizedUserJids.get(input);
  if (known !== undefined) {
    return known;
  }
  const normalized = bareJid(parseUserJid(input));
  if (input.length <= NORMALIZED_CACHE_INPUT_MAX) {
    if (normalizedUserJids.size >= NORMALIZED_CACHE_MAX) {
      normalizedUserJids.clear();
    }
    normalizedUserJids.set(input, normalized);
  }

  return normalized;
}
