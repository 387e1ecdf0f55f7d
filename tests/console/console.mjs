#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The web console (/ui/) in a real browser: Debian's chromium, headless,
// driven by playwright-core, against a cairn node started for real with
// tokens. From the user's side:
//   - /ui/ is served with a Content-Security-Policy; without a token the
//     console asks for one, and a wrong one is refused;
//   - an agent submits a plan whose charge the policy gives to an operator:
//     the plans page lists it, its step graph shows charge awaiting
//     approval; a read-only token cannot approve (the console shows why and
//     the approval stays pending); the operator approves it in the inbox
//     with a comment and watches the plan succeed;
//   - a message whose payload holds <script> and an <img onerror> is
//     dead-lettered: the dead-letter page shows the payload as text (no
//     element injected, nothing run), redrive works, and the actor's journal
//     shows it processed;
//   - an MCP client (the official SDK) calls a tool inside its own trace:
//     the traces page finds the trace, its waterfall shows the MCP request
//     span and the tool's call actor, and the tool's page lists the call;
//   - no cookie is ever set.
// Screenshots go to --artifacts DIR.
//
// Usage: node console.mjs --cairn BIN [--artifacts DIR] [--chromium PATH] [--verbose]
// Exit: 0 all passed, 1 a step failed.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

import {
  CairnHttpNode, Steps, check, makeWorkspace, onCleanup, pollUntil, sdkLoader,
} from '../mcp/lib/harness.mjs';

const USAGE = 'usage: console.mjs --cairn BIN [--artifacts DIR] [--chromium PATH] [--verbose]';
const argv = process.argv.slice(2);
const take = (flag) => {
  const i = argv.indexOf(flag);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  argv.splice(i, 2);
  return v;
};
const artifacts = path.resolve(take('--artifacts') ?? 'console-artifacts');
const chromiumPath = take('--chromium') ?? '/usr/bin/chromium';
const cairn = take('--cairn');
const verbose = argv.includes('--verbose');
if (!cairn) {
  console.error(`error: --cairn BIN is required\n${USAGE}`);
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const modulesDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../conformance/node_modules');
const load = sdkLoader(modulesDir);
const { chromium } = load('playwright-core');
const { Client } = load('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = load('@modelcontextprotocol/sdk/client/streamableHttp.js');

const ADMIN = `admin-${randomBytes(8).toString('hex')}`;
const READER = `reader-${randomBytes(8).toString('hex')}`;
const workspace = makeWorkspace('cairn-console');
const config = path.join(workspace.dir, 'cairn.json');
writeFileSync(
  config,
  `${JSON.stringify({
    policies: [
      {
        name: 'big-charges',
        tools: ['charge_payment'],
        when: { type: 'object', properties: { amount_cents: { minimum: 50000 } }, required: ['amount_cents'] },
        verdict: 'approve',
        approver: 'operator',
        risk: 'high',
        reason: 'charges of 500.00 or more need an operator',
      },
    ],
  })}\n`,
);

let node;
let browser;
let page;
const browserLog = [];
const steps = new Steps({
  logs: () => [node?.output, { label: 'browser console', tail: () => browserLog.slice(-40).join('\n') }].filter(Boolean),
});

async function call(method, target, { body, secret = ADMIN } = {}) {
  const headers = { Authorization: `Bearer ${secret}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`${node.baseUrl}${target}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, json, text, headers: r.headers };
}

async function shot(name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

async function goto(route) {
  await page.goto(`${node.baseUrl}/ui/#/${route}`);
}

async function signIn(secret) {
  await page.goto(`${node.baseUrl}/ui/`);
  await page.locator('form.signin').waitFor();
  await page.fill('#token', secret);
  await page.click('form.signin button[type=submit]');
  await page.locator('.tile[data-metric=throughput]').waitFor();
}

async function signOut() {
  await page.click('#signout');
  await page.locator('form.signin').waitFor();
}

console.log(`console: chromium ${chromiumPath}, playwright-core, against ${cairn}`);

await steps.run('start a node with tokens, the console profile and an operator rule for big charges', async () => {
  node = new CairnHttpNode({
    cairn,
    dataDir: workspace.dataDir,
    configPath: config,
    profile: 'console',
    extraArgs: ['--token', `${ADMIN}:read,write,approve,admin`, '--token', `${READER}:read`],
    verbose,
  });
  await node.start();
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'], headless: true });
  onCleanup(() => browser?.process()?.kill('SIGKILL'));
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  page.on('console', (m) => browserLog.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => browserLog.push(`page error: ${e.message}`));
  return `${node.baseUrl}, ${browser.version()}`;
});

await steps.run('/ui/ has a Content-Security-Policy; without a token the console asks for one; a wrong one is refused', async () => {
  const r = await page.goto(`${node.baseUrl}/ui/`);
  const csp = (await r.allHeaders())['content-security-policy'] ?? '';
  check(/script-src 'self'/.test(csp) && /default-src 'none'/.test(csp) && !/unsafe-inline/.test(csp), `CSP: ${csp}`);
  await page.locator('form.signin').waitFor();
  await page.fill('#token', 'not-a-token');
  await page.click('form.signin button[type=submit]');
  await page.locator('form.signin .problem').waitFor();
  const said = await page.textContent('form.signin .problem');
  check(/unknown token/.test(said), `the sign-in said ${JSON.stringify(said)}`);
  const api = await call('GET', '/api/v1/status', { secret: 'not-a-token' });
  check(api.status === 401, `the API answered ${api.status} to a wrong token`);
  return `CSP "${csp.slice(0, 60)}…"; a wrong token: "${said}"`;
});

await steps.run('signed in, the overview shows live throughput', async () => {
  await signIn(ADMIN);
  await page.waitForFunction(() => document.querySelectorAll('.tile[data-metric=throughput] polyline').length > 0, null, { timeout: 20000 });
  const tiles = await page.locator('.tile').count();
  return `${tiles} tiles`;
});

// ---------------------------------------------------------------- a plan waits for approval
const order = `web-${randomBytes(4).toString('hex')}`;
let planId;
await steps.run('an agent submits a plan; the plans page lists it and its graph shows charge awaiting approval', async () => {
  const r = await call('POST', '/api/v1/plans', {
    body: {
      steps: [
        { id: 'reserve', tool: 'reserve_stock', arguments: { order_id: order, sku: 'A-1', qty: 2 } },
        { id: 'charge', tool: 'charge_payment', after: ['reserve'], arguments: { order_id: order, amount_cents: 75000, reservation_id: { $from: 'reserve', pointer: '/reservation_id' } } },
        { id: 'notify', tool: 'notify_customer', after: ['charge'], arguments: { order_id: order, message: 'on its way' } },
      ],
    },
  });
  check(r.status === 201 || r.status === 202 || r.status === 200, `POST /api/v1/plans answered ${r.status}: ${r.text}`);
  planId = r.json.id ?? r.json.plan;
  check(typeof planId === 'string', `no plan id in ${r.text}`);
  await goto('plans');
  await page.locator(`#plans tr[data-plan="${planId}"]`).waitFor();
  await page.click(`#plans tr[data-plan="${planId}"]`);
  await page.locator('#step-graph g[data-step=charge].g-awaiting_approval').waitFor({ timeout: 30000 });
  const reserve = await page.getAttribute('#step-graph g[data-step=reserve]', 'class');
  check(reserve === 'g-succeeded', `reserve is drawn as ${reserve}`);
  const verdict = await page.textContent('#steps tr[data-step=charge]');
  check(/approve/.test(verdict) && /big-charges/.test(verdict), `the charge row says ${verdict}`);
  await shot('plan-waiting');
  return planId;
});

await steps.run('a read-only token cannot approve: the console says why and the approval stays pending', async () => {
  await signOut();
  await signIn(READER);
  await goto('approvals');
  const card = page.locator(`.approval[data-approval="${planId}/charge"]`);
  await card.waitFor();
  await card.locator('button[data-action=approve]').click();
  await page.locator('.problem').waitFor();
  const said = await page.textContent('.problem');
  check(/approve/.test(said) && /scope/.test(said), `the console said ${JSON.stringify(said)}`);
  const a = await call('GET', '/api/v1/approvals');
  const mine = a.json.approvals.find((x) => x.id === `${planId}/charge`);
  check(mine?.state === 'pending', `the approval is ${mine?.state}`);
  await signOut();
  return said;
});

await steps.run('the operator approves in the inbox with a comment and watches the plan succeed', async () => {
  await signIn(ADMIN);
  await goto('approvals');
  const card = page.locator(`.approval[data-approval="${planId}/charge"]`);
  await card.waitFor();
  const text = await card.textContent();
  check(/charge_payment/.test(text) && /big-charges/.test(text) && /75000/.test(text) && /arguments sha256 [0-9a-f]{64}/.test(text) && /left/.test(text), `the card shows ${text}`);
  await shot('approvals');
  await card.locator('textarea').fill('checked with the customer');
  await card.locator('button[data-action=approve]').click();
  await page.locator('.notice', { hasText: 'Approved' }).waitFor();
  await goto(`plans/${encodeURIComponent(planId)}`);
  await page.locator('#plan-state .s-succeeded').waitFor({ timeout: 30000 });
  const notify = await page.getAttribute('#step-graph g[data-step=notify]', 'class');
  check(notify === 'g-succeeded', `notify is drawn as ${notify}`);
  const a = await call('GET', '/api/v1/approvals');
  const mine = a.json.approvals.find((x) => x.id === `${planId}/charge`);
  check(mine?.state === 'approved' && mine.comment === 'checked with the customer', `approval ${JSON.stringify(mine)}`);
  await shot('plan-succeeded');
  return `approved by ${mine.decided_by}; plan succeeded`;
});

// ---------------------------------------------------------------- a dead letter, escaped, redriven
const hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
let deadId;
await steps.run('a message with <script> in its payload is dead-lettered; the console shows it as text and runs nothing', async () => {
  const sent = await call('POST', `/api/v1/actors/${encodeURIComponent('gate/g1')}/messages`, {
    body: { type: 'console.gate/v1', payload: { note: hostile } },
  });
  check(sent.status === 202 || sent.status === 200, `sending answered ${sent.status}: ${sent.text}`);
  deadId = await pollUntil(
    async () => {
      const r = await call('GET', '/api/v1/dead-letters?kind=gate');
      const d = r.json?.dead_letters?.[0];
      return { done: Boolean(d), value: d?.id };
    },
    { timeoutMs: 30000, what: 'the gate message dead-lettered' },
  );
  await goto('dead-letters');
  const row = page.locator(`#dead-letters tr[data-dead-letter="${deadId}"]`);
  await row.waitFor();
  await row.click();
  await page.locator('#dead-letter').waitFor();
  const shown = await page.textContent('#dead-letter');
  check(shown.includes('<script>window.__pwned = 1</script>') && shown.includes('onerror'), `the payload is not shown as text: ${shown}`);
  check(/the gate is closed/.test(shown), `the error is missing: ${shown}`);
  const injected = await page.evaluate(() => ({
    scripts: document.querySelectorAll('main script').length,
    images: document.querySelectorAll('main img').length,
    pwned: window.__pwned ?? null,
  }));
  check(injected.scripts === 0 && injected.images === 0 && injected.pwned === null, `markup was injected: ${JSON.stringify(injected)}`);
  await shot('dead-letter');
  return deadId;
});

await steps.run('redrive from the console: the dead letter is gone and the actor journal shows it processed', async () => {
  await page.click('#dead-letter button[data-action=redrive]');
  await page.locator('.notice', { hasText: 'Redriven' }).waitFor();
  await pollUntil(
    async () => {
      const r = await call('GET', `/api/v1/dead-letters/${deadId}`);
      return { done: r.status === 404, value: r.status };
    },
    { timeoutMs: 30000, what: 'the dead letter gone after its redrive' },
  );
  await goto(`actors/${encodeURIComponent('gate/g1')}`);
  const entry = page.locator('#journal li', { hasText: 'console.passed/v1' });
  await entry.waitFor({ timeout: 30000 });
  const text = await entry.textContent();
  check(text.includes('<script>'), `the journal entry is ${text}`);
  const pwned = await page.evaluate(() => window.__pwned ?? null);
  check(pwned === null, `a script ran: ${pwned}`);
  return 'processed on redrive, shown as text';
});

// ---------------------------------------------------------------- the trace of an MCP call
const traceId = randomBytes(16).toString('hex');
await steps.run('an MCP client calls echo in its own trace; the console finds it and draws its waterfall', async () => {
  const client = new Client({ name: 'cairn-console-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${node.baseUrl}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${ADMIN}` } },
  });
  await client.connect(transport);
  const result = await client.callTool({
    name: 'echo',
    arguments: { text: 'hello from the console test' },
    _meta: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
  });
  check(!result.isError, `echo failed: ${JSON.stringify(result)}`);
  await client.close();
  await goto('traces');
  await page.fill('input[name=tool]', 'echo');
  await pollUntil(
    async () => {
      await page.click('form.filters button[type=submit]');
      await page.waitForTimeout(300);
      return { done: (await page.locator(`#traces tr[data-trace="${traceId}"]`).count()) > 0, value: await page.textContent('main') };
    },
    { timeoutMs: 20000, intervalMs: 500, what: 'the trace listed' },
  );
  await page.click(`#traces tr[data-trace="${traceId}"]`);
  await page.locator('#waterfall .row').first().waitFor();
  const names = await page.locator('#waterfall .row .name').allTextContents();
  check(names.some((n) => /tools\/call/.test(n)), `no MCP request span among ${JSON.stringify(names)}`);
  check(names.length >= 2, `the waterfall has ${names.length} spans: ${JSON.stringify(names)}`);
  // The second row is the tool's call step: its details name the tool it executes.
  await page.locator('#waterfall .row').nth(1).click();
  await page.locator('#span-details table').first().waitFor();
  const details = await page.textContent('#span-details');
  check(/tool\.echo\//.test(details) && /execute_tool/.test(details) && /gen_ai\.tool\.name\s*echo/.test(details), `span details: ${details}`);
  await shot('trace');
  return `${names.length} spans: ${names.join(' | ')}`;
});

await steps.run("the tools page shows echo's contract and lists the call", async () => {
  await goto('tools');
  await page.locator('#tools tr[data-tool=echo]').waitFor();
  await page.click('#tools tr[data-tool=echo]');
  await page.locator('h2', { hasText: 'Input schema' }).waitFor();
  await page.locator(`#traces tr[data-trace="${traceId}"]`).waitFor({ timeout: 20000 });
  const text = await page.textContent('main');
  check(/"text"/.test(text), `no input schema shown: ${text.slice(0, 300)}`);
  return 'contract and recent call shown';
});

await steps.run('the console used the Authorization header only: no cookie was set', async () => {
  const cookies = await page.context().cookies();
  check(cookies.length === 0, `cookies: ${JSON.stringify(cookies)}`);
  const errors = browserLog.filter((l) => l.startsWith('page error'));
  check(errors.length === 0, `page errors: ${errors.join('; ')}`);
  await goto('');
  await page.waitForTimeout(3000);
  await shot('overview');
  return `screenshots in ${artifacts}`;
});

await browser.close();
browser = undefined;
await node.stop();
steps.finish();
