// Self and inclusive time per package (node_modules/<pkg>, src, node:internal) from a .cpuprofile.
// node bench/lib/profile-packages.mjs file.cpuprofile [fromUs toUs]
import { readFileSync } from 'node:fs';

const [file, from, to] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const pkgOf = (url) => {
  if (url === '') return '(native/vm)';
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1];
  if (url.includes('/dist/src/')) return 'src:' + url.split('/dist/src/')[1].split('/')[0];
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  return url;
};
const self = new Map();
const incl = new Map();
let total = 0;
let time = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  time += profile.timeDeltas[i];
  if (from && (time < Number(from) || time > Number(to))) continue;
  const d = profile.timeDeltas[i + 1] ?? 0;
  total += d;
  let id = profile.samples[i];
  const f = nodes.get(id).callFrame;
  const k = f.url === '' ? f.functionName : pkgOf(f.url);
  self.set(k, (self.get(k) ?? 0) + d);
  const seen = new Set();
  while (id !== undefined) {
    const fr = nodes.get(id).callFrame;
    const p = fr.url === '' ? null : pkgOf(fr.url);
    if (p && !seen.has(p)) { seen.add(p); incl.set(p, (incl.get(p) ?? 0) + d); }
    id = parent.get(id);
  }
}
const show = (title, map) => {
  console.log(title);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(100 * v / total).toFixed(1).padStart(6)}%  ${k}`);
};
show('SELF by package', self);
show('INCLUSIVE by package', incl);
