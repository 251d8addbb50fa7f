import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '#src/config/load-config.js';

describe('configuration', () => {
  it('defaults to the embedded, single-node setup on port 5280 for localhost', () => {
    const config = loadConfig({});

    expect(config.http.port).toBe(5280);
    expect(config.http.host).toBeUndefined();
    expect(config.domains).toEqual(['localhost']);
    expect(config.database.mode).toBe('embedded');
    expect(config.redis.mode).toBe('memory');
    expect(config.dataDir).toMatch(/\/data$/);
    expect([...config.modules]).toEqual([
      'realtime',
      'sse',
      'metrics',
      'docs',
      'webhooks',
      'rooms',
      'xmpp',
    ]);
    expect(config.rooms).toEqual({ maxPerUser: 500, maxMembers: 1000 });
  });

  it('reads a YAML file named by CONFIG_FILE, with the environment winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-config-'));
    const file = join(dir, 'relay.yaml');
    writeFileSync(
      file,
      'http_port: 6000\nxmpp_domains: [Chat.Example, example.org]\nlog_level: debug\nmodules: realtime,metrics\n',
    );

    const config = loadConfig({
      CONFIG_FILE: file,
      LOG_LEVEL: 'warn',
      DATABASE_URL: 'postgres://db/relay',
    });

    expect(config.http.port).toBe(6000);
    expect(config.domains).toEqual(['chat.example', 'example.org']);
    expect(config.logLevel).toBe('warn');
    expect(config.database.mode).toBe('postgres');
    expect(config.isEnabled('sse')).toBe(false);
  });

  it('refuses bad values and unknown keys in the file, naming each', () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-config-'));
    const file = join(dir, 'relay.yaml');
    writeFileSync(file, 'htp_port: 1\n');

    expect(() => loadConfig({ HTTP_PORT: 'eighty' })).toThrow(/HTTP_PORT/);
    expect(() => loadConfig({ MODULES: 'realtime,teleport' })).toThrow(ConfigError);
    expect(() => loadConfig({ CONFIG_FILE: file })).toThrow(/HTP_PORT/);
    expect(() => loadConfig({ HTTP_PORT: 'eighty' })).toThrow('(got "eighty")');
    expect(() => loadConfig({ XMPP_DOMAINS: 'bad..domain' })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://db/relay' })).toThrow(
      /DATABASE_URL: must be a postgres/,
    );
    expect(() => loadConfig({ DATABASE_URL: 'mysql://user:secret@db' })).not.toThrow(/secret/);
  });
});
