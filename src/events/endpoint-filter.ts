import { EVENT_TYPES, type EventType } from '#src/events/event-catalogue.js';

/**
 * Event type patterns: an exact type (`message.created`), a family
 * (`message.*`) or everything (`*`). A pattern that matches no known type
 * is refused when an endpoint is saved, so a typo cannot silently mute it.
 */
export function matchesPattern(pattern: string, type: string): boolean {
  if (pattern === '*') {
    return true;
  }
  if (pattern.endsWith('.*')) {
    return type.startsWith(pattern.slice(0, -1));
  }

  return pattern === type;
}

export function matchesAny(patterns: readonly string[], type: string): boolean {
  return patterns.some((pattern) => matchesPattern(pattern, type));
}

/** Families whose events come with modules still to be built (rooms, contacts): subscribable already. */
const RESERVED_FAMILIES = ['room.*', 'contact.*'];

export function unknownPatterns(patterns: readonly string[]): string[] {
  return patterns.filter(
    (pattern) =>
      !RESERVED_FAMILIES.includes(pattern) &&
      !EVENT_TYPES.some((type) => matchesPattern(pattern, type)),
  );
}

/** An endpoint with no domains listed covers every domain. */
export function coversDomain(domains: readonly string[], domain: string): boolean {
  return domains.length === 0 || domains.includes(domain);
}

export function wants(
  endpoint: { readonly events: readonly string[]; readonly domains: readonly string[] },
  type: EventType,
  domain: string,
): boolean {
  return matchesAny(endpoint.events, type) && coversDomain(endpoint.domains, domain);
}
