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

function systemTicks() {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number);

    return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal };
  } catch {
    return undefined;
  }
}

/** Snapshot now; call .stop(roles) later for CPU seconds per role over the interval. */
export function cpuSnapshot() {
  const before = new Map(readAll().map((row) => [row.pid, row.ticks]));
  const startedAt = process.hrtime.bigint();
  const system = systemTicks();

  return {
    stop(roles) {
      const wall = Number(process.hrtime.bigint() - startedAt) / 1e9;
      const groups = {};
      const others = {};
      for (const row of readAll()) {
        const used = (row.ticks - (before.get(row.pid) ?? 0)) / TICKS;
        if (used <= 0) {
          continue;
        }
        const role =
          roles[row.pid] ??
          (row.comm === 'postgres' ? 'postgres' : row.comm.startsWith('redis') ? 'redis' : 'other');
        groups[role] = (groups[role] ?? 0) + used;
        if (role === 'other') {
          others[row.comm] = (others[row.comm] ?? 0) + used;
        }
      }
      const out = { wallSeconds: round(wall, 2) };
      for (const [role, seconds] of Object.entries(groups).sort((a, b) => b[1] - a[1])) {
        out[role] = round(seconds / wall, 2); // cores busy on average
      }
      const now = systemTicks();
      if (system !== undefined && now !== undefined) {
        out.machineIdle = round((now.idle - system.idle) / TICKS / wall, 2);
        out.steal = round((now.steal - system.steal) / TICKS / wall, 2);
        // busy time of processes that ended inside the interval (short-lived tools, test workers)
        const attributed = Object.values(groups).reduce((sum, seconds) => sum + seconds, 0);
        out.unattributed = Math.max(
          0,
          round((now.busy - system.busy) / TICKS / wall - attributed / wall, 2),
        );
      }
      const top = Object.entries(others)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3);
      if (top.length > 0 && (groups.other ?? 0) / wall > 0.05) {
        out.otherProcesses = top
          .map(([comm, seconds]) => `${comm}:${round(seconds / wall, 2)}`)
          .join(' ');
      }

      return out;
    },
  };
}

function round(value, digits) {
  const scale = 10 ** digits;

  return Math.round(value * scale) / scale;
}

/**
 * Why a phase's figures do not describe the code alone, or '' when they do:
 * other work on the machine (more than 0.2 of a core), or time the
 * hypervisor gave to other guests (steal above 0.2 of a core). Throughput
 * and latency of such a phase are low by that much; CPU per message holds.
 */
export function disturbance(cpu) {
  const round2 = (value) => Math.round(value * 100) / 100;
  const foreign = round2((cpu?.other ?? 0) + (cpu?.unattributed ?? 0));
  const reasons = [];
  if (foreign > 0.2) {
    reasons.push(
      `${foreign} cores used by other work (${cpu.otherProcesses ?? 'processes that ended meanwhile'})`,
    );
  }
  if ((cpu?.steal ?? 0) > 0.2) {
    reasons.push(`${cpu.steal} cores stolen by the hypervisor`);
  }

  return reasons.length === 0 ? '' : `DISTURBED: ${reasons.join('; ')}`;
}
