// Self time per function from a V8 .cpuprofile, optionally only inside a
// window of monotonic time (microseconds, the clock process.hrtime uses).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

export function summarizeProfile(file, { fromUs, toUs, top = 15, root = process.cwd() } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  let time = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i];
    if ((fromUs !== undefined && time < fromUs) || (toUs !== undefined && time > toUs)) {
      continue;
    }
    const delta = profile.timeDeltas[i + 1] ?? 0;
    const frame = nodes.get(profile.samples[i]).callFrame;
    const where = frame.url === '' ? '' : `${relative(root, frame.url.replace(/^file:\/\//, ''))}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + delta);
    total += delta;
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);

  return {
    windowMs: total / 1000,
    coveredWindow: fromUs === undefined || (profile.startTime <= fromUs && profile.endTime >= toUs),
    top: rows.map(([name, us]) => ({ name, ms: Math.round(us / 1000), pct: Math.round((1000 * us) / total) / 10 })),
  };
}

// node bench/lib/profile-summary.mjs file.cpuprofile [top]
if (import.meta.url === `file://${process.argv[1]}`) {
  const { top, windowMs } = summarizeProfile(process.argv[2], { top: Number(process.argv[3] ?? 25) });
  console.log(`total ${windowMs.toFixed(0)} ms`);
  for (const row of top) {
    console.log(`${String(row.pct).padStart(5)}%  ${String(row.ms).padStart(6)} ms  ${row.name}`);
  }
}
