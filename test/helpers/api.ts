import { io, type Socket } from 'socket.io-client';

import { ADMIN_PASSWORD } from './test-server.js';

export interface HttpResult<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export const ADMIN_AUTH = basic('admin', ADMIN_PASSWORD);

export async function http<T = unknown>(
  base: string,
  method: string,
  path: string,
  options: {
    auth?: string;
    json?: unknown;
    headers?: Record<string, string>;
    raw?: string | Buffer;
  } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== undefined) {
    headers.authorization = options.auth;
  }
  let body: string | Buffer | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.raw !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = options.raw;
  }
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  if (text !== '' && /json/.test(response.headers.get('content-type') ?? '')) {
    parsed = JSON.parse(text);
  }

  return { status: response.status, body: parsed as T, headers: response.headers };
}

export interface TestUser {
  readonly jid: string;
  readonly password: string;
  readonly basic: string;
}

export async function registerUser(
  base: string,
  domain: string,
  username: string,
  password = 'secret-password',
): Promise<TestUser> {
  const result = await http(base, 'POST', `/api/admin/users/${domain}`, {
    auth: ADMIN_AUTH,
    json: { username, password },
  });
  if (result.status !== 201) {
    throw new Error(
      `register ${username}@${domain}: ${result.status} ${JSON.stringify(result.body)}`,
    );
  }
  const jid = `${username}@${domain}`.toLowerCase();

  return { jid, password, basic: basic(jid, password) };
}

export async function tokenFor(base: string, user: TestUser): Promise<string> {
  const result = await http<{ access_token: string }>(base, 'POST', '/api/tokens', {
    auth: user.basic,
  });
  if (result.status !== 200) {
    throw new Error(`token for ${user.jid}: ${result.status}`);
  }

  return result.body.access_token;
}

export async function connectSocket(base: string, auth: Record<string, string>): Promise<Socket> {
  const socket = io(base, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('socket.io connect timed out')), 5000);
    socket.once('session', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });

  return socket;
}

/** Collects events of one name from a socket, and waits (with a bound) for a count of them. */
export class EventRecorder<T = unknown> {
  readonly events: T[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  constructor(socket: Socket, event: string) {
    socket.on(event, (data: T) => {
      this.events.push(data);
      this.waiters = this.waiters.filter((waiter) => {
        if (this.events.length >= waiter.count) {
          waiter.resolve();

          return false;
        }

        return true;
      });
    });
  }

  waitFor(count: number, timeoutMs = 5000): Promise<T[]> {
    if (this.events.length >= count) {
      return Promise.resolve(this.events);
    }

    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`expected ${count} events, got ${this.events.length} within ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.events);
        },
      });
    });
  }
}

export function sendMessage(
  base: string,
  auth: string,
  to: string,
  body: string,
  headers: Record<string, string> = {},
) {
  return http<{ id: string }>(base, 'POST', '/api/messages', { auth, json: { to, body }, headers });
}
