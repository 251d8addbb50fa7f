import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadConfig } from '#src/config/load-config.js';

/**
 * A small admin CLI for the shell. It drives a running server through the
 * admin REST API, so it is safe in embedded mode too (the embedded database
 * belongs to the server process) and every change takes the same path as
 * one made by any other admin client.
 */
const USAGE = `usage: npm run admin -- <command> [arguments]

  domain:list                        list served domains
  domain:add <domain>                add a domain
  user:list <domain>                 list the users of a domain
  user:add <user@domain> <password>  register a user
  user:password <user@domain> <password>
                                     set a user's password
  user:delete <user@domain>          delete a user and their data

The server is found at ADMIN_URL (default http://127.0.0.1:HTTP_PORT); the
credentials are ADMIN_USERNAME and ADMIN_PASSWORD, or the password the
server generated in DATA_DIR.`;

interface Command {
  readonly args: number;
  run(api: AdminApi, args: string[]): Promise<void>;
}

class AdminApi {
  constructor(
    private readonly base: string,
    private readonly authorization: string,
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        authorization: this.authorization,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const parsed: unknown = text === '' ? undefined : JSON.parse(text);
    if (!response.ok) {
      const problem = parsed as { title?: string; detail?: string } | undefined;
      throw new CliError(
        `${response.status} ${problem?.detail ?? problem?.title ?? response.statusText}`,
      );
    }

    return parsed;
  }
}

class CliError extends Error {}

function splitJid(jid: string): [string, string] {
  const at = jid.lastIndexOf('@');
  if (at <= 0 || at === jid.length - 1) {
    throw new CliError(`not a user address: ${jid}`);
  }

  return [jid.slice(0, at), jid.slice(at + 1)];
}

const COMMANDS: Record<string, Command> = {
  'domain:list': {
    args: 0,
    run: async (api) => {
      for (const domain of (await api.call('GET', '/api/admin/domains')) as {
        name: string;
        enabled: boolean;
      }[]) {
        process.stdout.write(`${domain.name}${domain.enabled ? '' : ' (disabled)'}\n`);
      }
    },
  },
  'domain:add': {
    args: 1,
    run: async (api, [name]) => {
      await api.call('POST', '/api/admin/domains', { name });
      process.stdout.write(`added ${name}\n`);
    },
  },
  'user:list': {
    args: 1,
    run: async (api, [domain]) => {
      let after: string | undefined;
      do {
        const query =
          after === undefined ? '?limit=1000' : `?limit=1000&after=${encodeURIComponent(after)}`;
        const page = (await api.call(
          'GET',
          `/api/admin/users/${encodeURIComponent(domain!)}${query}`,
        )) as { users: { jid: string }[]; next?: string };
        page.users.forEach((user) => process.stdout.write(`${user.jid}\n`));
        after = page.next;
      } while (after !== undefined);
    },
  },
  'user:add': {
    args: 2,
    run: async (api, [jid, password]) => {
      const [username, domain] = splitJid(jid!);
      const user = (await api.call('POST', `/api/admin/users/${encodeURIComponent(domain)}`, {
        username,
        password,
      })) as { jid: string };
      process.stdout.write(`registered ${user.jid}\n`);
    },
  },
  'user:password': {
    args: 2,
    run: async (api, [jid, password]) => {
      const [username, domain] = splitJid(jid!);
      await api.call(
        'PUT',
        `/api/admin/users/${encodeURIComponent(domain)}/${encodeURIComponent(username)}`,
        { password },
      );
      process.stdout.write(`password changed for ${jid}\n`);
    },
  },
  'user:delete': {
    args: 1,
    run: async (api, [jid]) => {
      const [username, domain] = splitJid(jid!);
      await api.call(
        'DELETE',
        `/api/admin/users/${encodeURIComponent(domain)}/${encodeURIComponent(username)}`,
      );
      process.stdout.write(`deleted ${jid}\n`);
    },
  },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (name === undefined || name === '--help' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);

    return name === undefined ? 2 : 0;
  }
  if (command === undefined) {
    process.stderr.write(`unknown command: ${name}\n\n${USAGE}\n`);

    return 2;
  }
  if (args.length !== command.args) {
    process.stderr.write(
      `${name} takes ${command.args} argument(s), got ${args.length}\n\n${USAGE}\n`,
    );

    return 2;
  }
  const config = loadConfig();
  const password =
    config.admin.password ?? readFileSync(join(config.dataDir, 'admin-password'), 'utf8').trim();
  const base = process.env.ADMIN_URL ?? `http://127.0.0.1:${config.http.port}`;
  const api = new AdminApi(
    base,
    `Basic ${Buffer.from(`${config.admin.username}:${password}`).toString('base64')}`,
  );
  try {
    await command.run(api, args);

    return 0;
  } catch (error: unknown) {
    const reason =
      error instanceof CliError
        ? error.message
        : `cannot reach the server at ${base}: ${(error as Error).message}`;
    process.stderr.write(`${name}: ${reason}\n`);

    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
