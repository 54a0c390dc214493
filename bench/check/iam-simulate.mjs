// The alternative to `keyless check` a user would reach for: @cloud-copilot/iam-simulate (AGPL-3.0, run as a
// separate process, never copied), asked the same question for every configured-repository row of
// `keyless check --format json` on the benchmark workspace: may this token assume this role?
//
// The trust policies are rebuilt here the way `keyless plan` writes them for the generated config (StringEquals
// aud, StringLike over every `{repo}:{env}:*` of the environment, IpAddress when the environment has CIDRs).
// As in bench/policy-eval, the condition keys use the `accounts.google.com:` prefix because iam-simulate drops
// path-bearing provider keys; the work per evaluation is the same. Adversary rows are left out (their UUIDs are
// synthetic and internal to keyless).
//
// Usage: node iam-simulate.mjs <node_modules> <check.json> <repos> <envs>
// Prints: iam-simulate <evaluations> <wall seconds> <CPU seconds> <agreeing rows> <disagreeing rows>
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeModules, checkPath, reposArg, envsArg] = process.argv.slice(2);
const { runSimulation } = await import(
  pathToFileURL(join(nodeModules, '@cloud-copilot', 'iam-simulate', 'dist', 'esm', 'index.js')).href
);
const repos = Number(reposArg);
const envs = Number(envsArg);
const hex = (n, width) => n.toString(16).padStart(width, '0');
// The same UUIDs as bench/check/run's uuid().
const uuid = (a, b) => `{${hex(a, 8)}-${hex(b, 4)}-4${hex(b, 3)}-8${hex(b, 3)}-${hex(a, 12)}}`;
const prefix = 'accounts.google.com';
const provider = (account) => `arn:aws:iam::${account}:oidc-provider/${prefix}`;
const audience = `ari:cloud:bitbucket::workspace/${uuid(1, 1).slice(1, -1)}`;
const step = '{0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3}';

const policies = new Map();
for (let e = 1; e <= envs; e++) {
  const account = String(100000000000 + e);
  const subjects = [];
  for (let r = 1; r <= repos; r++) subjects.push(`${uuid(r, 2)}:${uuid(r * 100 + e, 3)}:*`);
  const condition = { StringEquals: { [`${prefix}:aud`]: audience }, StringLike: { [`${prefix}:sub`]: subjects } };
  if (e % 2 === 0) condition.IpAddress = { 'aws:SourceIp': [`10.${e}.0.0/24`] };
  policies.set(account, {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Federated: provider(account) }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: condition }],
  });
}

const check = JSON.parse(readFileSync(checkPath, 'utf8'));
const rows = check.scenarios.filter((s) => /^repo\d+$/.test(s.repository));
const simulations = rows.map((s) => {
  const r = Number(s.repository.slice(4));
  const account = s.role.split(':')[4];
  const sub = s.deployment
    ? `${uuid(r, 2)}:${uuid(r * 100 + Number(s.deployment.slice(3)), 3)}:${step}`
    : `${uuid(r, 2)}:${step}`;
  return {
    request: {
      principal: provider(account),
      action: 'sts:AssumeRoleWithWebIdentity',
      resource: { resource: s.role, accountId: account },
      contextVariables: {
        [`${prefix}:aud`]: audience,
        [`${prefix}:sub`]: sub,
        'aws:SourceIp': s.source_ip,
        'aws:CurrentTime': '2026-11-22T04:00:00Z',
        'aws:EpochTime': '1795320000',
      },
    },
    identityPolicies: [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: policies.get(account),
  };
});

const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const cpuStart = cpu();
const start = process.hrtime.bigint();
let agree = 0;
let disagree = 0;
for (let i = 0; i < simulations.length; i++) {
  const result = await runSimulation(simulations[i], {});
  if (result.resultType !== 'single') throw new Error('iam-simulate rejected a case: ' + JSON.stringify(result.errors ?? result));
  const verdict = result.overallResult === 'Allowed' ? 'allow' : 'deny';
  if (verdict === rows[i].aws) agree++; else disagree++;
}
const wall = Number(process.hrtime.bigint() - start) / 1e9;
console.log(`iam-simulate ${simulations.length} ${wall.toFixed(3)} ${(cpu() - cpuStart).toFixed(3)} ${agree} ${disagree}`);
