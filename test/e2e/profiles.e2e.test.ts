import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ProfileView } from '#src/profiles/profile-view.js';
import { http, registerUser, type TestUser } from '#test/helpers/api.js';
import { servicesUp } from '#test/helpers/services.js';
import { startTestServer, type TestServer } from '#test/helpers/test-server.js';

interface Problem {
  readonly type: string;
  readonly errors?: { name: string; reason: string }[];
}

const AVATAR = Buffer.from('a tiny png, as far as the server cares').toString('base64');

describe.skipIf(!servicesUp())('REST profiles', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await registerUser(server.url, server.domain, 'alice');
    bob = await registerUser(server.url, server.domain, 'bob');
  });

  afterAll(async () => {
    await server?.stop();
  });

  const put = (user: TestUser, json: unknown) =>
    http<ProfileView & Problem>(server.url, 'PUT', '/api/profile', { auth: user.basic, json });

  it('starts empty, is replaced whole by PUT, and is read by others', async () => {
    const empty = await http<ProfileView>(server.url, 'GET', '/api/profile', { auth: alice.basic });
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({
      jid: alice.jid,
      full_name: null,
      nickname: null,
      email: null,
      url: null,
      birthday: null,
      note: null,
      avatar: null,
      updated_at: null,
    });

    const saved = await put(alice, {
      full_name: 'Alice Liddell',
      nickname: 'al',
      email: 'alice@example.org',
      birthday: '1990-04-01',
      avatar: { type: 'image/png', data: AVATAR },
    });
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({
      full_name: 'Alice Liddell',
      nickname: 'al',
      avatar: { type: 'image/png', data: AVATAR },
    });
    expect(saved.body.updated_at).toEqual(expect.any(Number));

    const seen = await http<ProfileView>(server.url, 'GET', `/api/users/${alice.jid}/profile`, {
      auth: bob.basic,
    });
    expect(seen.status).toBe(200);
    expect(seen.body).toEqual(saved.body);

    // PUT replaces: what is left out is cleared.
    const replaced = await put(alice, { nickname: 'alice' });
    expect(replaced.body).toMatchObject({ nickname: 'alice', full_name: null, avatar: null });
  });

  it('refuses invalid and oversized fields with problem+json naming them, and keeps the profile', async () => {
    await put(bob, { full_name: 'Bob' });
    const cases: [unknown, string][] = [
      [{ email: 'not an address' }, 'email'],
      [{ birthday: '1990-13-45' }, 'birthday'],
      [{ full_name: 'x'.repeat(1024) }, 'full_name'],
      [{ nickname: 'bell\u0007' }, 'nickname'],
      [{ avatar: { type: 'text/plain', data: AVATAR } }, 'avatar.type'],
      [{ avatar: { type: 'image/png', data: 'A'.repeat(90_000) } }, 'avatar.data'],
      [{ avatar: { type: 'image/png', data: 'not base64!' } }, 'avatar.data'],
      [{ colour: 'blue' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const refused = await put(bob, body);
      expect(refused.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(refused.body.type).toMatch(/\/problems\/validation$/);
      expect(refused.body.errors?.map((error) => error.name)).toContain(field);
    }
    const kept = await http<ProfileView>(server.url, 'GET', '/api/profile', { auth: bob.basic });
    expect(kept.body.full_name).toBe('Bob');
  });

  it('answers 404 for an unknown user and for one who blocks the caller, 400 for a malformed JID', async () => {
    const unknown = await http<Problem>(
      server.url,
      'GET',
      `/api/users/nobody@${server.domain}/profile`,
      { auth: alice.basic },
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.type).toMatch(/\/problems\/user-not-found$/);

    expect(
      (
        await http(server.url, 'POST', '/api/blocking', {
          auth: bob.basic,
          json: { jid: alice.jid },
        })
      ).status,
    ).toBe(201);
    const blocked = await http<Problem>(server.url, 'GET', `/api/users/${bob.jid}/profile`, {
      auth: alice.basic,
    });
    expect(blocked.status).toBe(404);
    expect(blocked.body.type).toMatch(/\/problems\/user-not-found$/);

    const malformed = await http<Problem>(server.url, 'GET', '/api/users/a@@b/profile', {
      auth: alice.basic,
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.type).toMatch(/\/problems\/invalid-jid$/);

    expect((await http(server.url, 'GET', '/api/profile')).status).toBe(401);
  });

  it('DELETE clears the profile', async () => {
    const cleared = await http(server.url, 'DELETE', '/api/profile', { auth: alice.basic });
    expect(cleared.status).toBe(204);
    const after = await http<ProfileView>(server.url, 'GET', '/api/profile', { auth: alice.basic });
    expect(after.body.nickname).toBeNull();
    expect(after.body.updated_at).toBeNull();
  });
});
