// Times @cloud-copilot/iam-simulate (AGPL-3.0, called as a separate process, never copied) on the cases that
// crates/iam/examples/policy_eval_bench.rs wrote, in a loop inside this one process so start-up is not counted.
// Usage: node iam-simulate.mjs <node_modules dir> <cases.json> [seconds]
// Prints: iam-simulate <evals per CPU second> <allows> <evals per wall second>
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeModules, casesPath, secondsArg] = process.argv.slice(2);
const { runSimulation } = await import(
  pathToFileURL(join(nodeModules, '@cloud-copilot', 'iam-simulate', 'dist', 'esm', 'index.js')).href
);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
const seconds = Number(secondsArg ?? 3);
const simulations = cases.requests.map((r) => ({
  request: {
    principal: cases.provider,
    action: 'sts:AssumeRoleWithWebIdentity',
    resource: { resource: 'arn:aws:iam::123456789012:role/deploy', accountId: '123456789012' },
    contextVariables: {
      [`${cases.prefix}:aud`]: r.aud,
      [`${cases.prefix}:sub`]: r.sub,
      'aws:SourceIp': r.ip,
      'aws:CurrentTime': '2026-11-22T04:00:00Z',
      'aws:EpochTime': '1795320000',
    },
  },
  identityPolicies: [],
  serviceControlPolicies: [],
  resourceControlPolicies: [],
  resourcePolicy: cases.policy,
}));

let allows = 0;
for (const s of simulations) {
  const r = await runSimulation(s, {});
  if (r.resultType !== 'single') throw new Error('iam-simulate rejected a case: ' + JSON.stringify(r.errors ?? r));
  if (r.result.ignoredContextKeys.length) throw new Error('iam-simulate ignored keys ' + r.result.ignoredContextKeys);
  if (r.overallResult === 'Allowed') allows++;
}
// Budget in CPU time (user + system of this process), like the Rust side, so machine load does not skew it.
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const start = process.hrtime.bigint();
const cpuStart = cpu();
let evaluations = 0;
while (cpu() - cpuStart < seconds && Number(process.hrtime.bigint() - start) / 1e9 < seconds * 20) {
  for (const s of simulations) {
    await runSimulation(s, {});
  }
  evaluations += simulations.length;
}
const wall = Number(process.hrtime.bigint() - start) / 1e9;
const used = cpu() - cpuStart;
console.log(`iam-simulate ${(evaluations / used).toFixed(0)} ${allows} ${(evaluations / wall).toFixed(0)}`);
