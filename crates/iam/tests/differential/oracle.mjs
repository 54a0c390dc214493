// Differential oracle: evaluates trust-policy cases with @cloud-copilot/iam-simulate (AGPL-3.0).
// keyless only CALLS it, as a separate process; none of its code is copied into keyless.
//
// Usage: node oracle.mjs <node_modules dir> < cases.jsonl > results.jsonl
// Each input line:  {"policy": {...}, "principal": "<ARN>", "action": "...", "context": {"k": "v" | ["v"]},
//                    "role": "<role ARN>" (optional; default: a role in account 123456789012)}
//   evaluates `policy` as the trust policy (resource policy) of a role; with "identity": true, "resource": "<ARN
//   or *>" and "account": "<12 digits>" it evaluates `policy` as the caller's identity policy on that resource
//   (crates/cli/tests/emulate/permissions.rs).
// Each output line: {"result": "Allowed"|"ExplicitlyDenied"|"ImplicitlyDenied", "ignored": [...]}
//               or  {"error": "..."} when iam-simulate rejects the input.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const nodeModules = process.argv[2];
if (!nodeModules) {
  console.error('usage: node oracle.mjs <node_modules dir> < cases.jsonl');
  process.exit(2);
}
const entry = join(nodeModules, '@cloud-copilot', 'iam-simulate', 'dist', 'esm', 'index.js');
const { runSimulation } = await import(pathToFileURL(entry).href);

const ROLE = { resource: 'arn:aws:iam::123456789012:role/keyless-differential', accountId: '123456789012' };
const lines = readFileSync(0, 'utf8').split('\n').filter((l) => l.length > 0);
const out = [];
for (const line of lines) {
  const c = JSON.parse(line);
  const simulation = c.identity
    ? {
        request: {
          principal: c.principal,
          action: c.action,
          resource: { resource: c.resource, accountId: c.account },
          contextVariables: c.context,
        },
        identityPolicies: [{ name: 'identity', policy: c.policy }],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      }
    : {
        request: {
          principal: c.principal,
          action: c.action,
          // A web identity provider is always in the role's own account (STS looks it up there), so a case may
          // name the role; iam-simulate would otherwise judge a provider of another account as cross-account access.
          resource: c.role ? { resource: c.role, accountId: c.role.split(':')[4] } : ROLE,
          contextVariables: c.context,
        },
        identityPolicies: [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: c.policy,
      };
  try {
    const r = await runSimulation(simulation, {});
    if (r.resultType === 'single') {
      out.push(JSON.stringify({ result: r.overallResult, ignored: r.result.ignoredContextKeys ?? null }));
    } else if (r.resultType === 'error') {
      out.push(JSON.stringify({ error: r.errors.message + ' ' + JSON.stringify(r.errors).slice(0, 500) }));
    } else {
      out.push(JSON.stringify({ error: 'unexpected result type ' + r.resultType }));
    }
  } catch (e) {
    out.push(JSON.stringify({ error: 'exception: ' + String(e) }));
  }
}
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
