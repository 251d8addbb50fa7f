// CPU seconds per process group from /proc, to show who used the two cores
// during a phase (Linux only; empty elsewhere).
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

function readAll() {
  const rows = [];
  let pids;
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return rows;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      // fields[0] is state (field 3); utime is field 14, stime field 15
      rows.push({ pid: Number(pid), comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process ended meanwhile
    }
  }

  return rows;
}

/** Snapshot now; call .stop(roles) later for CPU seconds per role over the interval. */
export function cpuSnapshot() {
  const before = new Map(readAll().map((row) => [row.pid, row.ticks]));
  const startedAt = process.hrtime.bigint();

  return {
    stop(roles) {
      const wall = Number(process.hrtime.bigint() - startedAt) / 1e9;
      const groups = {};
      for (const row of readAll()) {
        const used = (row.ticks - (before.get(row.pid) ?? 0)) / TICKS;
        if (used <= 0) {
          continue;
        }
        const role = roles[row.pid] ?? (row.comm === 'postgres' ? 'postgres' : row.comm.startsWith('redis') ? 'redis' : 'other');
        groups[role] = (groups[role] ?? 0) + used;
      }
      const out = { wallSeconds: round(wall, 2) };
      for (const [role, seconds] of Object.entries(groups).sort((a, b) => b[1] - a[1])) {
        out[role] = round(seconds / wall, 2); // cores busy on average
      }

      return out;
    },
  };
}

function round(value, digits) {
  const scale = 10 ** digits;

  return Math.round(value * scale) / scale;
}
