#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Plans over MCP (docs/orchestration.md: Policy, Approvals, Execution,
// Surfaces) with the official TypeScript SDK (@modelcontextprotocol/sdk 1.32,
// protocol 2025-11-25) as the client, against nodes started over HTTP:
//   A) submit_plan as a task (experimental tasks: params.task) survives
//      SIGKILL of the node: a 3-step plan (reserve_stock -> charge_payment,
//      whose reservation_id is a $from reference -> notify_customer) waits
//      for an operator's approval of charge; the node API shows the plan
//      with charge awaiting_approval; the node is killed and restarted on the
//      same data dir and config; a new SDK session sees the task still
//      working; the operator approves over HTTP quoting arguments_sha256
//      (another hash is 409); that session sees the task completed
//      (tasks/get), tasks/result's structured content is state "succeeded",
//      and the payments ledger holds exactly one charge
//   B) approver "client": submit_plan (not a task) from a client with the
//      elicitation capability; cairn asks through elicitation/create
//      (decision approve|deny); approving ends "succeeded" with the handler
//      called exactly once and the approval's decided_by ending in
//      "(elicitation)"; denying ends "compensated" with the reservation
//      released exactly once and nothing charged
//
// Usage: node plans.mjs --cairn BIN [--modules DIR] [--verbose]
// Exit: 0 all passed, 1 a step failed.

import path from 'node:path';
import { writeFileSync } from 'node:fs';

import {
  CairnHttpNode,
  StepFailure,
  Steps,
  WireTap,
  check,
  describeError,
  makeWorkspace,
  parseOptions,
  pollUntil,
  sdkLoader,
  sdkStrict,
  toolText,
} from './lib/harness.mjs';

const USAGE = 'usage: plans.mjs --cairn BIN [--modules DIR] [--verbose]';
const SDK_NAME = '@modelcontextprotocol/sdk 1.32';
const PROTOCOL_VERSION = '2025-11-25';
const DEMO_TOOLS = ['reserve_stock', 'release_stock', 'charge_payment', 'refund_payment', 'notify_customer', 'submit_plan', 'plan_status'];

const options = parseOptions(process.argv.slice(2), USAGE);
const load = sdkLoader(options.modulesDir);
const { Client } = load('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = load('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { CallToolResultSchema, ElicitRequestSchema } = load('@modelcontextprotocol/sdk/types.js');

const workspace = makeWorkspace('cairn-plans');
const nodes = [];
const connections = [];
const steps = new Steps({
  wireTaps: () => connections.map((c) => c.tap),
  logs: () => nodes.map((n) => n.output),
});

// ---------------------------------------------------------------------------
// Nodes, configs, connections, the node API.

function writeConfig(name, policies) {
  const file = path.join(workspace.dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ policies }, null, 2)}\n`);
  return file;
}

async function startNode({ name, configPath, port = 0 }) {
  const node = new CairnHttpNode({
    cairn: options.cairn,
    dataDir: path.join(workspace.dir, name),
    configPath,
    port,
    verbose: options.verbose,
  });
  await node.start();
  nodes.push(node);
  return node;
}

// A fresh SDK client and session, with a wire tap for failure reports.
async function connect(node, { label, capabilities = {}, setup = () => {} }) {
  const client = new Client({ name: `cairn-plans-${label}`, version: '1.0.0' }, { capabilities, enforceStrictCapabilities: true });
  setup(client);
  const tap = new WireTap(`${label} (session on ${node.baseUrl})`);
  const transport = tap.attach(new StreamableHTTPClientTransport(new URL(node.mcpUrl)));
  client.onerror = (error) => {
    if (options.verbose) console.error(`client error (${label}): ${describeError(error)}`);
  };
  await client.connect(transport);
  check(transport.protocolVersion === undefined || transport.protocolVersion === PROTOCOL_VERSION, `negotiated ${transport.protocolVersion}`);
  const connection = { client, transport, tap, label };
  connections.push(connection);
  return connection;
}

async function disconnect(connection) {
  await connection.client.close().catch(() => {});
  connections.splice(connections.indexOf(connection), 1);
}

async function api(node, method, target, body) {
  const response = await fetch(`${node.baseUrl}${target}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

async function apiOk(node, method, target, body, expect = [200]) {
  const r = await api(node, method, target, body);
  check(expect.includes(r.status), `${method} ${target} answered ${r.status}: ${r.text}`);
  return r.json;
}

const planTarget = (planId) => `/api/v1/plans/${encodeURIComponent(planId)}`;

async function ledgerOps(node, domain) {
  const r = await api(node, 'GET', `/api/v1/actors/${encodeURIComponent(`ledger/${domain}`)}`);
  if (r.status === 404) return { ops: {}, duplicates: 0, raw: null };
  check(r.status === 200, `GET ledger/${domain} answered ${r.status}: ${r.text}`);
  let state = r.json?.state;
  if (typeof state === 'string') state = JSON.parse(state);
  check(state && typeof state === 'object', `ledger/${domain} has no state object: ${r.text}`);
  return { ops: state.ops ?? {}, duplicates: state.duplicates ?? 0, raw: state };
}

// Every plan the node lists (newest first).
async function listPlans(node) {
  const body = await apiOk(node, 'GET', '/api/v1/plans?limit=50');
  check(Array.isArray(body?.plans), `GET /api/v1/plans answered ${JSON.stringify(body)}`);
  return body.plans;
}

const planDoc = (order, { amount = 4990 } = {}) => ({
  steps: [
    { id: 'reserve', tool: 'reserve_stock', arguments: { order_id: order, sku: 'A-1', qty: 2 } },
    {
      id: 'charge',
      tool: 'charge_payment',
      after: ['reserve'],
      arguments: { order_id: order, amount_cents: amount, reservation_id: { $from: 'reserve', pointer: '/reservation_id' } },
    },
    { id: 'notify', tool: 'notify_customer', after: ['charge'], arguments: { order_id: order, message: 'on its way' } },
  ],
});

async function checkTools(connection) {
  const names = [];
  let cursor;
  do {
    const page = await sdkStrict({
      sdk: SDK_NAME,
      tap: connection.tap,
      run: () => connection.client.listTools(cursor ? { cursor } : {}),
      method: 'tools/list',
      what: 'the tools/list result',
    });
    names.push(...page.tools.map((t) => t.name));
    if (page.tools.some((t) => t.name === 'submit_plan')) connection.submitPlanTool = page.tools.find((t) => t.name === 'submit_plan');
    cursor = page.nextCursor;
  } while (cursor);
  const missing = DEMO_TOOLS.filter((n) => !names.includes(n));
  check(missing.length === 0, `tools missing: ${missing.join(', ')} (listed: ${names.join(', ')})`);
  return names;
}

// ---------------------------------------------------------------------------

console.log(`plans: ${SDK_NAME} against ${options.cairn} over http`);

// ---------------------------------------------------------------- A) task + SIGKILL + operator approval
const operatorConfig = writeConfig('operator', [
  { name: 'charges-need-an-operator', tools: ['charge_payment'], verdict: 'approve', approver: 'operator', reason: 'an operator approves every charge in this test' },
]);
let nodeA;
let connA;
await steps.run('A) start a node with the operator rule and connect (2025-11-25)', async () => {
  nodeA = await startNode({ name: 'node-a', configPath: operatorConfig });
  connA = await connect(nodeA, { label: 'A1' });
  const names = await checkTools(connA);
  const caps = connA.client.getServerCapabilities();
  check(caps?.tasks?.requests?.tools?.call, `server advertises no tasks.requests.tools.call: ${JSON.stringify(caps)}`);
  const taskSupport = connA.submitPlanTool?.execution?.taskSupport;
  check(taskSupport === 'optional', `submit_plan execution.taskSupport is ${JSON.stringify(taskSupport)}, expected "optional"`);
  return `${nodeA.baseUrl}, session ${connA.transport.sessionId}, ${names.length} tools, submit_plan taskSupport ${taskSupport}`;
});

let taskId;
let pollIntervalMs = 250;
await steps.run('   submit_plan (reserve -> charge -> notify) with params.task starts a task', async () => {
  const task = await sdkStrict({
    sdk: SDK_NAME,
    tap: connA.tap,
    run: () => firstCreatedTask(connA, { plan: planDoc('A-1001') }),
    method: 'tools/call',
    toolName: 'submit_plan',
    what: 'the CreateTaskResult of a task-augmented submit_plan',
  });
  check(typeof task.taskId === 'string' && task.taskId !== '', `no taskId in ${JSON.stringify(task)}`);
  check(task.status === 'working', `status ${JSON.stringify(task.status)}, expected "working"`);
  taskId = task.taskId;
  pollIntervalMs = task.pollInterval ?? pollIntervalMs;
  return `taskId ${taskId}, status ${task.status}, ttl ${task.ttl}, pollInterval ${task.pollInterval}`;
});

let planId;
await steps.run('   the node API shows the plan running with charge awaiting_approval', async () => {
  const plan = await pollUntil(
    async () => {
      const plans = await listPlans(nodeA);
      const summary = plans.map((p) => ({ id: p.id, state: p.state }));
      if (plans.length === 0) return { done: false, value: summary };
      check(plans.length === 1, `expected one plan, the node lists ${JSON.stringify(summary)}`);
      const p = await apiOk(nodeA, 'GET', planTarget(plans[0].id));
      return { done: p?.steps?.charge?.state === 'awaiting_approval', value: p };
    },
    { timeoutMs: 30000, what: 'a plan whose charge step is awaiting_approval' },
  );
  planId = plan.id;
  check(plan.state === 'running', `plan state ${plan.state}, expected running: ${JSON.stringify(plan)}`);
  check(plan.steps.reserve.state === 'succeeded', `reserve is ${plan.steps.reserve.state}`);
  check(plan.steps.notify.state === 'pending', `notify is ${plan.steps.notify.state}`);
  const resolved = plan.steps.charge.resolved_arguments;
  const reservation = plan.steps.reserve.result?.structuredContent?.reservation_id;
  check(typeof reservation === 'string' && reservation !== '', `reserve's result has no structuredContent.reservation_id: ${JSON.stringify(plan.steps.reserve)}`);
  check(resolved?.reservation_id === reservation, `charge's resolved reservation_id is ${JSON.stringify(resolved?.reservation_id)}, reserve answered ${reservation}`);
  const charge = plan.steps.charge;
  check(charge.verdict === 'approve' && charge.rule === 'charges-need-an-operator', `charge's verdict ${charge.verdict}, rule ${charge.rule}`);
  check(charge.approval?.approver === 'operator' && charge.approval?.state === 'pending', `charge's approval: ${JSON.stringify(charge.approval)}`);
  return `${planId}: ${plan.state}, charge ${plan.steps.charge.state}, resolved ${JSON.stringify(resolved)}`;
});

await steps.run('   SIGKILL the node, restart it on the same data dir, config and port', async () => {
  const killedPid = nodeA.pid;
  await nodeA.kill('SIGKILL');
  await disconnect(connA);
  nodeA = await startNode({ name: 'node-a', configPath: operatorConfig, port: nodeA.port });
  const plan = await apiOk(nodeA, 'GET', planTarget(planId));
  check(plan.steps?.charge?.state === 'awaiting_approval', `after the restart charge is ${plan.steps?.charge?.state}: ${JSON.stringify(plan)}`);
  // The task outlived the process: a new session sees it still working.
  connA = await connect(nodeA, { label: 'A2' });
  const task = await sdkStrict({
    sdk: SDK_NAME,
    tap: connA.tap,
    run: () => connA.client.experimental.tasks.getTask(taskId),
    method: 'tasks/get',
    what: 'the tasks/get result',
  });
  check(task.taskId === taskId && task.status === 'working', `after the restart tasks/get answered ${JSON.stringify(task)}, expected ${taskId} working`);
  return `killed pid ${killedPid}; ${nodeA.baseUrl} pid ${nodeA.pid}; charge still ${plan.steps.charge.state}; new session ${connA.transport.sessionId}: task ${task.status}`;
});

await steps.run('   an operator approves charge over HTTP, quoting arguments_sha256', async () => {
  const approvalTarget = `/api/v1/approvals/${encodeURIComponent(`${planId}/charge`)}`;
  const approval = await apiOk(nodeA, 'GET', approvalTarget);
  const sha = approval?.arguments_sha256;
  check(typeof sha === 'string' && /^[0-9a-f]{64}$/.test(sha), `approval has no arguments_sha256: ${JSON.stringify(approval)}`);
  const wrong = await api(nodeA, 'POST', approvalTarget, { decision: 'approve', arguments_sha256: '0'.repeat(64) });
  check(wrong.status === 409, `a decision quoting another hash answered ${wrong.status}, expected 409: ${wrong.text}`);
  const decided = await apiOk(nodeA, 'POST', approvalTarget, { decision: 'approve', arguments_sha256: sha, comment: 'plans.mjs' }, [200, 202]);
  return `sha256 ${sha.slice(0, 16)}…, wrong hash 409, decision answered ${JSON.stringify(decided?.state ?? decided?.decision ?? decided)}`;
});

await steps.run('   the new SDK session: tasks/get until completed', async () => {
  let polls = 0;
  const task = await pollUntil(
    async () => {
      polls++;
      const value = await sdkStrict({
        sdk: SDK_NAME,
        tap: connA.tap,
        run: () => connA.client.experimental.tasks.getTask(taskId),
        method: 'tasks/get',
        what: 'the tasks/get result',
      });
      return { done: ['completed', 'failed', 'cancelled'].includes(value.status), value };
    },
    { timeoutMs: 60000, intervalMs: pollIntervalMs, what: `task ${taskId}` },
  );
  check(task.taskId === taskId, `tasks/get answered for ${task.taskId}`);
  check(task.status === 'completed', `task ended ${task.status}: ${JSON.stringify(task)}`);
  return `session ${connA.transport.sessionId}, ${polls} polls, status ${task.status}`;
});

await steps.run('   tasks/result: structured content state "succeeded"; the ledger holds one charge', async () => {
  const result = await sdkStrict({
    sdk: SDK_NAME,
    tap: connA.tap,
    run: () => connA.client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema),
    method: 'tasks/result',
    what: 'the tasks/result result',
  });
  check(!result.isError, `tool error: ${JSON.stringify(result)}`);
  const sc = result.structuredContent;
  check(sc?.id === planId, `result is for plan ${sc?.id}, expected ${planId}: ${JSON.stringify(result)}`);
  check(sc?.state === 'succeeded', `plan state ${sc?.state}: ${JSON.stringify(result)}`);
  for (const id of ['reserve', 'charge', 'notify']) check(sc.steps?.[id]?.state === 'succeeded', `step ${id} is ${sc.steps?.[id]?.state}`);
  const payments = await ledgerOps(nodeA, 'payments');
  check(payments.ops.charge === 1, `ledger/payments ops ${JSON.stringify(payments.raw)}, expected exactly one charge`);
  check(payments.duplicates === 0, `ledger/payments duplicates ${payments.duplicates}`);
  // A node without tokens: the operator's decision is journaled as anonymous.
  const decidedBy = sc.steps.charge.approval?.decided_by;
  check(decidedBy === 'anonymous', `charge's approval decided_by ${JSON.stringify(decidedBy)}, expected "anonymous" (the HTTP caller)`);
  return `${JSON.stringify(toolText(result))}, charge decided_by ${JSON.stringify(decidedBy)}, ledger/payments ops ${JSON.stringify(payments.ops)}`;
});

await disconnect(connA);
await nodeA.stop();

// ---------------------------------------------------------------- B) approver client: elicitation
const clientConfig = writeConfig('client', [
  { name: 'charges-ask-the-client', tools: ['charge_payment'], verdict: 'approve', approver: 'client', reason: 'the submitting client approves its charges' },
]);
let nodeB;
let connB;
let answer = 'approve';
const elicitations = [];
await steps.run('B) start a node with the client rule; connect a client with the elicitation capability', async () => {
  nodeB = await startNode({ name: 'node-b', configPath: clientConfig });
  connB = await connect(nodeB, {
    label: 'B',
    capabilities: { elicitation: {} },
    setup: (client) =>
      client.setRequestHandler(ElicitRequestSchema, async (request) => {
        elicitations.push(request.params);
        return { action: 'accept', content: { decision: answer, comment: `plans.mjs says ${answer}` } };
      }),
  });
  await checkTools(connB);
  return `${nodeB.baseUrl}, session ${connB.transport.sessionId}`;
});

async function submitWithElicitation(order) {
  const progress = [];
  const result = await sdkStrict({
    sdk: SDK_NAME,
    tap: connB.tap,
    run: () =>
      connB.client.callTool({ name: 'submit_plan', arguments: { plan: planDoc(order) } }, CallToolResultSchema, {
        onprogress: (p) => progress.push(p),
        resetTimeoutOnProgress: true,
        timeout: 120000,
      }),
    method: 'tools/call',
    toolName: 'submit_plan',
    what: 'the submit_plan result',
  });
  return { result, progress };
}

await steps.run('   submit_plan; elicitation/create answered approve -> "succeeded", asked exactly once', async () => {
  answer = 'approve';
  const { result, progress } = await submitWithElicitation('B-2001');
  const sc = result.structuredContent;
  check(elicitations.length === 1, `the elicitation handler was called ${elicitations.length} times, expected once: ${JSON.stringify(elicitations)}`);
  const asked = elicitations[0];
  check(asked.requestedSchema?.properties?.decision?.enum?.includes('approve'), `requestedSchema ${JSON.stringify(asked.requestedSchema)}`);
  check(!result.isError, `tool error: ${JSON.stringify(result)}`);
  check(sc?.state === 'succeeded', `plan state ${sc?.state}: ${JSON.stringify(result)}`);
  const plan = await apiOk(nodeB, 'GET', planTarget(sc.id));
  check(plan.state === 'succeeded', `the node API shows ${plan.state}`);
  const decidedBy = plan.steps?.charge?.approval?.decided_by;
  check(typeof decidedBy === 'string' && decidedBy.includes('(elicitation)'), `charge's approval: ${JSON.stringify(plan.steps?.charge?.approval)}`);
  const comment = plan.steps.charge.approval.comment;
  check(comment === 'plans.mjs says approve', `the elicitation answer's comment is not journaled: ${JSON.stringify(plan.steps.charge.approval)}`);
  return `${sc.id}: ${sc.state}; asked ${JSON.stringify(asked.message)}; decided_by ${JSON.stringify(decidedBy)}; ${progress.length} progress notification(s)`;
});

await steps.run('   a second plan answered deny -> "compensated", reservation released once, nothing charged', async () => {
  answer = 'deny';
  const before = elicitations.length;
  const paymentsBefore = await ledgerOps(nodeB, 'payments');
  const { result } = await submitWithElicitation('B-2002');
  const sc = result.structuredContent;
  check(elicitations.length === before + 1, `the elicitation handler was called ${elicitations.length - before} times for this plan, expected once`);
  check(sc?.state === 'compensated', `plan state ${sc?.state}, expected compensated: ${JSON.stringify(result)}`);
  check(result.isError === true, `a compensated plan's result should be isError: ${JSON.stringify(result)}`);
  const plan = await apiOk(nodeB, 'GET', planTarget(sc.id));
  check(plan.steps?.charge?.state === 'denied', `charge is ${plan.steps?.charge?.state}`);
  check(plan.steps?.reserve?.state === 'compensated', `reserve is ${plan.steps?.reserve?.state}`);
  check(plan.steps?.charge?.approval?.decided_by?.includes('(elicitation)'), `charge's approval: ${JSON.stringify(plan.steps?.charge?.approval)}`);
  const stock = await ledgerOps(nodeB, 'stock');
  const payments = await ledgerOps(nodeB, 'payments');
  check(stock.ops.release === 1, `ledger/stock ${JSON.stringify(stock.raw)}, expected exactly one release`);
  check(stock.duplicates === 0, `ledger/stock duplicates ${stock.duplicates}`);
  check((payments.ops.charge ?? 0) === (paymentsBefore.ops.charge ?? 0), `ledger/payments ${JSON.stringify(payments.raw)}: the denied plan charged`);
  return `${sc.id}: ${sc.state} (${sc.cause ?? ''}); ledger/stock ops ${JSON.stringify(stock.ops)}`;
});

await disconnect(connB);
await nodeB.stop();
steps.finish();

// The SDK's task API streams a call's life: taskCreated, then status polls,
// then the result. We only want the task: stop the stream as soon as it
// exists, so the node can be killed while the task is still working.
async function firstCreatedTask({ client }, args) {
  const stream = client.experimental.tasks.callToolStream({ name: 'submit_plan', arguments: args }, CallToolResultSchema, { task: { ttl: 600000 } });
  for await (const message of stream) {
    if (message.type === 'taskCreated') return message.task;
    if (message.type === 'error') throw message.error;
    if (message.type === 'result') throw new StepFailure(`expected a task, the call completed at once: ${JSON.stringify(message.result)}`);
  }
  throw new Error('the task stream ended without a task');
}
