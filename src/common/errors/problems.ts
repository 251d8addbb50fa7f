/**
 * The one catalogue of errors the server answers with.
 *
 * Each entry has a stable `type` (RFC 9457 section 3.1.1), resolved against
 * the server's base URL, so clients can branch on it rather than on prose.
 */
export const PROBLEMS = {
  'bad-request': { status: 400, title: 'The request is malformed' },
  validation: { status: 400, title: 'The request has invalid fields' },
  'invalid-jid': { status: 400, title: 'An address is not a valid JID' },
  'invalid-encoding': { status: 400, title: 'The request body is not valid UTF-8' },
  'invalid-json': { status: 400, title: 'The request body is not valid JSON' },
  unauthorized: { status: 401, title: 'Authentication is required' },
  'invalid-credentials': { status: 401, title: 'The credentials are not valid' },
  'invalid-token': { status: 401, title: 'The token is not valid or has expired' },
  forbidden: { status: 403, title: 'The request is not allowed' },
  'domain-disabled': { status: 403, title: 'The domain is disabled' },
  'room-forbidden': { status: 403, title: 'Your role in the room does not allow this' },
  'not-found': { status: 404, title: 'The resource does not exist' },
  'user-not-found': { status: 404, title: 'The user does not exist' },
  'domain-not-found': { status: 404, title: 'The domain is not served here' },
  'session-not-found': { status: 404, title: 'The session does not exist' },
  'room-not-found': {
    status: 404,
    title: 'The room does not exist, or you are not a member of it',
  },
  'room-member-not-found': { status: 404, title: 'The user is not a member of the room' },
  'message-not-found': { status: 404, title: 'The message does not exist or is not yours to see' },
  'not-author': { status: 403, title: 'Only the author of a message may change it' },
  'message-retracted': { status: 409, title: 'The message was retracted' },
  'reactions-limit': { status: 409, title: 'Too many different reactions on one message' },
  'conversation-not-found': { status: 404, title: 'The conversation is not in your inbox' },
  'method-not-allowed': { status: 405, title: 'The method is not allowed here' },
  conflict: { status: 409, title: 'The resource already exists' },
  'user-exists': { status: 409, title: 'The user already exists' },
  'domain-exists': { status: 409, title: 'The domain already exists' },
  'room-exists': { status: 409, title: 'The room id is taken' },
  'room-member-exists': { status: 409, title: 'The user is already a member of the room' },
  'room-full': { status: 409, title: 'The room has as many members as allowed' },
  'room-limit-reached': { status: 409, title: 'The user is in as many rooms as allowed' },
  'recipient-blocked': {
    status: 409,
    title: 'You block this address; unblock it before sending to it',
  },
  'contacts-limit-reached': { status: 409, title: 'The contact list is full' },
  'blocks-limit-reached': { status: 409, title: 'The blocklist is full' },
  'no-session': { status: 409, title: 'The user has no session online' },
  'idempotency-key-reused': {
    status: 422,
    title: 'The idempotency key was already used for a different message',
  },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'message-too-large': { status: 413, title: 'The message body is over the size limit' },
  'unsupported-media-type': { status: 415, title: 'The request body must be JSON' },
  'too-many-attempts': { status: 429, title: 'Too many failed attempts; try again later' },
  internal: { status: 500, title: 'The server failed to handle the request' },
  unavailable: { status: 503, title: 'The service is not ready' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

export interface InvalidField {
  /** The field at fault, as a JSON path into the request (`to`, `body`, `query.limit`). */
  readonly name: string;
  readonly reason: string;
}

export interface ProblemOptions {
  readonly detail?: string;
  readonly fields?: readonly InvalidField[];
  /** Seconds, sent as `Retry-After` (RFC 9110 section 10.2.3). */
  readonly retryAfter?: number;
  readonly cause?: unknown;
}

/** A failure the caller can act on; rendered as problem+json on HTTP and as an error event on sockets. */
export class AppError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ProblemCode,
    readonly options: ProblemOptions = {},
  ) {
    super(options.detail ?? PROBLEMS[code].title, { cause: options.cause });
    this.name = 'AppError';
    this.status = PROBLEMS[code].status;
    this.title = PROBLEMS[code].title;
  }

  get type(): string {
    return problemType(this.code);
  }
}

export function problemType(code: ProblemCode): string {
  return `/problems/${code}`;
}

/** The problem+json body (RFC 9457 section 3). */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  request_id?: string;
  errors?: readonly InvalidField[];
}

export function toProblemDocument(
  error: AppError,
  requestId?: string,
  instance?: string,
): ProblemDocument {
  return {
    type: error.type,
    title: error.title,
    status: error.status,
    ...(error.options.detail === undefined ? {} : { detail: error.options.detail }),
    ...(instance === undefined ? {} : { instance }),
    ...(requestId === undefined ? {} : { request_id: requestId }),
    ...(error.options.fields === undefined ? {} : { errors: error.options.fields }),
  };
}
