// What the benchmarks read off the server under test: its Prometheus
// metrics, the archive's group commits over a phase, and CPU per message.
import { call } from './common.mjs';

const r1 = (value) => Math.round(value * 10) / 10;
const r2 = (value) => Math.round(value * 100) / 100;

/** The server's Prometheus metrics, as name{labels} -> value (empty if /metrics is off). */
export async function scrapeMetrics(base) {
  const values = new Map();
  const res = await call(base, 'GET', '/metrics');
  if (res.status === 200) {
    for (const line of res.body.split('\n')) {
      if (line !== '' && !line.startsWith('#')) {
        const space = line.lastIndexOf(' ');
        values.set(line.slice(0, space), Number(line.slice(space + 1)));
      }
    }
  }

  return values;
}

/**
 * The archive's group commits between two scrapes: how many, their mean
 * size, their mean duration, and what share took longer than 1, 2 and 5 ms.
 */
export function archiveStats(before, after) {
  const delta = (name) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  const count = delta('relay_archive_batch_size_count');
  const timed = delta('relay_archive_commit_seconds_count');
  const over = (le) =>
    timed === 0
      ? 0
      : r2((100 * (timed - delta(`relay_archive_commit_seconds_bucket{le="${le}"}`))) / timed);

  return {
    transactions: count,
    meanBatch: count === 0 ? 0 : r1(delta('relay_archive_batch_size_sum') / count),
    meanCommitMs: timed === 0 ? 0 : r2((delta('relay_archive_commit_seconds_sum') / timed) * 1000),
    percentCommitsOver1Ms: over('0.001'),
    percentCommitsOver2Ms: over('0.002'),
    percentCommitsOver5Ms: over('0.005'),
  };
}

/**
 * CPU time per message, in µs, of each of `roles` in a cpuSnapshot; robust
 * to other load on the machine, unlike messages per second.
 */
export function cpuPerMessage(cpu, messages, roles) {
  const out = {};
  for (const role of roles) {
    if (cpu?.[role] !== undefined && messages > 0) {
      out[role] = Math.round((cpu[role] * cpu.wallSeconds * 1e6) / messages);
    }
  }

  return out;
}
