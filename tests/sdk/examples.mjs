#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The out-of-tree examples (tools/examples/), built against an installed
// cairn by examples.sh, run as their users would run them: each node is
// started for real, sent messages over the HTTP API and called over MCP
// with the official TypeScript SDK.
//   - counter: a typed message is taken and journaled, its durable timer
//     fires (a reminder journaled with the total), the tool's send reaches
//     the counter, a call outside the schema is refused and changes nothing,
//     and the state survives SIGKILL;
//   - trip: a workflow calls two tools; a charge the card declines is
//     compensated (the room released), one within the limit completes;
//   - tool: word_stats is listed with its schemas and answers structured
//     content; a call outside its input schema never reaches it; a plan
//     posted over the HTTP API runs it; `mcp stdio` serves it; `--demo` is
//     refused in a program built without the demo.
//
// Usage: node examples.mjs --counter BIN --trip BIN --tool BIN [--verbose]
// Exit: 0 all passed, 1 a step failed.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import {
  CairnHttpNode, Steps, check, makeWorkspace, pollUntil, rejectionOf, sdkLoader,
} from '../mcp/lib/harness.mjs';

const USAGE = 'usage: examples.mjs --counter BIN --trip BIN --tool BIN [--verbose]';
const argv = process.argv.slice(2);
const take = (flag) => {
  const i = argv.indexOf(flag);
  return i < 0 ? undefined : argv[i + 1];
};
const bins = { counter: take('--counter'), trip: take('--trip'), tool: take('--tool') };
const verbose = argv.includes('--verbose');
if (!bins.counter || !bins.trip || !bins.tool) {
  console.error(`error: every example binary is required\n${USAGE}`);
  process.exit(2);
}

const modulesDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../conformance/node_modules');
const load = sdkLoader(modulesDir);
const { Client } = load('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = load('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { StdioClientTransport } = load('@modelcontextprotocol/sdk/client/stdio.js');

const nodes = [];
const steps = new Steps({ logs: () => nodes.map((n) => n.output) });

async function startNode(name, bin) {
  const ws = makeWorkspace(`cairn-example-${name}`);
  const node = new CairnHttpNode({ cairn: bin, dataDir: ws.dataDir, profile: null, verbose });
  nodes.push(node);
  await node.start();
  return node;
}

async function connect(node) {
  const client = new Client({ name: 'cairn-examples-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(node.mcpUrl)));
  return client;
}

async function post(node, actor, type, payload) {
  const res = await fetch(`${node.baseUrl}/api/v1/actors/${encodeURIComponent(actor)}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type, payload }),
  });
  return { status: res.status, body: await res.json() };
}

async function actor(node, id) {
  const res = await fetch(`${node.baseUrl}/api/v1/actors/${encodeURIComponent(id)}`);
  return res.status === 200 ? res.json() : { status: res.status };
}

async function journal(node, id) {
  const res = await fetch(`${node.baseUrl}/api/v1/actors/${encodeURIComponent(id)}/journal`);
  check(res.status === 200, `journal of ${id}: HTTP ${res.status}`);
  return (await res.json()).events;
}

const stateOf = (node, id, done, what) =>
  pollUntil(async () => {
    const a = await actor(node, id);
    return { done: Boolean(a.state) && done(a.state), value: a.state ?? a };
  }, { timeoutMs: 20000, what });

// --- the README ----------------------------------------------------------------
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

await steps.run("the README's code from an example is that example's text", async () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const marker = /<!-- from (tools\/examples\/[^ ]+) -->\n```cpp\n([\s\S]*?)```/g;
  let blocks = 0;
  for (const [, file, code] of readme.matchAll(marker)) {
    const source = readFileSync(path.join(root, file), 'utf8');
    check(source.includes(code), `a README block marked as from ${file} is not in it:\n${code.slice(0, 300)}`);
    blocks++;
  }
  check(blocks >= 2, `README blocks from the examples: ${blocks}`);
  return `${blocks} blocks`;
});

// --- counter -----------------------------------------------------------------
const counter = await startNode('counter', bins.counter);

await steps.run('counter: a typed message over HTTP is journaled and its durable timer fires', async () => {
  const sent = await post(counter, 'counter/a', 'counter.add/v1', { n: 5 });
  check(sent.status === 202, `POST answered ${sent.status}: ${JSON.stringify(sent.body)}`);
  const state = await stateOf(counter, 'counter/a', (s) => s.total === 5 && s.reminders === 1,
    'the counter at 5 with one reminder');
  const events = await journal(counter, 'counter/a');
  const types = events.map((e) => e.type);
  check(JSON.stringify(types) === JSON.stringify(['counter.add/v1', 'counter.reminder/v1']),
    `journal: ${JSON.stringify(types)}`);
  check(events[1].payload.total === 5, `the reminder's total: ${JSON.stringify(events[1].payload)}`);
  return `state ${JSON.stringify(state)}`;
});

await steps.run('counter: a type the kind does not accept is refused at the door', async () => {
  const sent = await post(counter, 'counter/a', 'counter.subtract/v1', { n: 1 });
  check(sent.status === 400 && sent.body.code === 'unknown_message_type',
    `answered ${sent.status}: ${JSON.stringify(sent.body)}`);
});

await steps.run('counter: its C++ tool, called over MCP, adds to the counter', async () => {
  const client = await connect(counter);
  try {
    const listed = await client.listTools();
    const tool = listed.tools.find((t) => t.name === 'add_to_counter');
    check(tool && tool.outputSchema, `add_to_counter listed with its output schema: ${JSON.stringify(tool)}`);
    const result = await client.callTool({ name: 'add_to_counter', arguments: { counter: 'a', n: 2 } });
    check(!result.isError && result.structuredContent?.sent_to === 'counter/a',
      `result: ${JSON.stringify(result)}`);
    // Outside the input schema (n must be at least 1): refused, nothing sent.
    const bad = await client.callTool({ name: 'add_to_counter', arguments: { counter: 'a', n: 0 } })
      .then((r) => (r.isError ? r : Promise.reject(new Error(`accepted: ${JSON.stringify(r)}`))))
      .catch((e) => e);
    check(bad && (bad.isError || bad.code !== undefined), `n = 0 was not refused: ${JSON.stringify(bad)}`);
  } finally {
    await client.close();
  }
  const state = await stateOf(counter, 'counter/a', (s) => s.total === 7 && s.reminders === 2,
    'the counter at 7 with two reminders');
  return `state ${JSON.stringify(state)}`;
});

await steps.run('counter: its state survives SIGKILL', async () => {
  await counter.kill('SIGKILL');
  await counter.start();
  const state = await stateOf(counter, 'counter/a', (s) => s.total === 7, 'the counter at 7 after a restart');
  check(state.reminders === 2, `reminders after the restart: ${state.reminders}`);
  return `state ${JSON.stringify(state)}`;
});
await counter.stop();

// --- trip ----------------------------------------------------------------------
const trip = await startNode('trip', bins.trip);

await steps.run('trip: a booking within the card limit completes through both tools', async () => {
  const sent = await post(trip, 'trip/t1', 'trip.book/v1', { nights: 2, amount_cents: 30000 });
  check(sent.status === 202, `POST answered ${sent.status}: ${JSON.stringify(sent.body)}`);
  const state = await stateOf(trip, 'trip/t1', (s) => s.status === 'completed' || s.status === 'failed'
    || s.status === 'compensated', 'trip/t1 finished');
  check(state.status === 'completed' && state.reservation.startsWith('room-'), `state ${JSON.stringify(state)}`);
  return `state ${JSON.stringify(state)}`;
});

await steps.run('trip: a declined charge is compensated: the room is released', async () => {
  const sent = await post(trip, 'trip/t2', 'trip.book/v1', { nights: 1, amount_cents: 90000 });
  check(sent.status === 202, `POST answered ${sent.status}: ${JSON.stringify(sent.body)}`);
  const state = await stateOf(trip, 'trip/t2', (s) => s.status === 'completed' || s.status === 'failed'
    || s.status === 'compensated', 'trip/t2 finished');
  check(state.status === 'compensated' && /declined/.test(state.reason), `state ${JSON.stringify(state)}`);
  const statuses = (await journal(trip, 'trip/t2')).filter((e) => e.type === 'trip.progress/v1')
    .map((e) => e.payload.status);
  check(JSON.stringify(statuses) === JSON.stringify(['reserved', 'compensating', 'compensated']),
    `progress: ${JSON.stringify(statuses)}`);
  return statuses.join(' -> ');
});

await steps.run('trip: its tools answer over MCP (a declined charge is a tool error)', async () => {
  const client = await connect(trip);
  try {
    const declined = await client.callTool({ name: 'charge_card', arguments: { trip: 'trip/x', amount_cents: 60000 } });
    check(declined.isError === true, `declined: ${JSON.stringify(declined)}`);
    const room = await client.callTool({ name: 'reserve_room', arguments: { trip: 'trip/x', nights: 3 } });
    check(!room.isError && typeof room.structuredContent?.reservation === 'string', `room: ${JSON.stringify(room)}`);
  } finally {
    await client.close();
  }
});
await trip.stop();

// --- tool ----------------------------------------------------------------------
const tool = await startNode('tool', bins.tool);

await steps.run('tool: word_stats is listed with both schemas, over MCP and the node API', async () => {
  const client = await connect(tool);
  try {
    const listed = await client.listTools();
    const t = listed.tools.find((x) => x.name === 'word_stats');
    check(t && t.inputSchema?.required?.includes('text') && t.outputSchema?.required?.includes('words')
      && t.annotations?.readOnlyHint === true, `listed: ${JSON.stringify(t)}`);
  } finally {
    await client.close();
  }
  const res = await fetch(`${tool.baseUrl}/api/v1/tools`);
  const body = await res.json();
  check(body.tools.some((x) => x.name === 'word_stats'), `GET /api/v1/tools: ${JSON.stringify(body).slice(0, 300)}`);
});

await steps.run('tool: word_stats answers structured content; input outside its schema is refused', async () => {
  const client = await connect(tool);
  try {
    const r = await client.callTool({ name: 'word_stats', arguments: { text: 'agents think, events execute' } });
    check(!r.isError && r.structuredContent?.words === 4 && r.structuredContent?.longest === 'execute',
      `result: ${JSON.stringify(r)}`);
    const bad = await rejectionOf(
      client.callTool({ name: 'word_stats', arguments: { words: 3 } })
        .then((x) => (x.isError ? Promise.reject(Object.assign(new Error('tool error'), { result: x })) : x)),
      'word_stats without text');
    return `refused: ${bad.message}`;
  } finally {
    await client.close();
  }
});
await steps.run('tool: a plan posted over the HTTP API runs it twice, the second on the first result', async () => {
  const plan = {
    idempotency_key: 'words-1',
    steps: [
      { id: 'a', tool: 'word_stats', arguments: { text: 'agents think, events execute' } },
      { id: 'b', tool: 'word_stats', after: ['a'], arguments: { text: { $from: 'a', pointer: '/longest' } } },
    ],
  };
  const res = await fetch(`${tool.baseUrl}/api/v1/plans`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(plan),
  });
  const submitted = await res.json();
  check(res.status < 300 && typeof submitted.id === 'string', `POST /api/v1/plans: ${res.status} ${JSON.stringify(submitted).slice(0, 300)}`);
  const done = await pollUntil(async () => {
    const r = await fetch(`${tool.baseUrl}/api/v1/plans/${encodeURIComponent(submitted.id)}`);
    const p = await r.json();
    return { done: ['succeeded', 'failed', 'compensated', 'rejected'].includes(p.state), value: p };
  }, { timeoutMs: 20000, what: 'the plan finished' });
  check(done.state === 'succeeded' && done.steps.b.output?.words === 1
    && done.steps.b.resolved_arguments?.text === 'execute', `plan: ${JSON.stringify(done).slice(0, 600)}`);
  // Arguments outside the tool's schema: the whole plan is refused, naming the path.
  const bad = await fetch(`${tool.baseUrl}/api/v1/plans`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ idempotency_key: 'words-2', steps: [{ id: 'a', tool: 'word_stats', arguments: { words: 1 } }] }),
  });
  const problem = await bad.json();
  check(bad.status === 422 && problem.code === 'plan_invalid'
    && problem.problems.some((x) => x.path === '$.steps[0].arguments.text'), `refusal: ${bad.status} ${JSON.stringify(problem)}`);
  return `${done.id} ${done.state}`;
});
await tool.stop();

await steps.run('tool: the same program serves MCP on stdio (`mcp stdio`), as cairn does', async () => {
  const ws = makeWorkspace('cairn-example-stdio');
  const client = new Client({ name: 'cairn-examples-test', version: '1.0.0' });
  await client.connect(new StdioClientTransport({
    command: bins.tool, args: ['mcp', 'stdio', '--data', ws.dataDir], stderr: 'pipe',
  }));
  try {
    const r = await client.callTool({ name: 'word_stats', arguments: { text: 'one two' } });
    check(r.structuredContent?.words === 2, `result: ${JSON.stringify(r)}`);
  } finally {
    await client.close();
  }
});

await steps.run('tool: --demo in a program built without the demo is refused (exit 2, one line)', async () => {
  const ws = makeWorkspace('cairn-example-demo');
  const r = spawnSync(bins.tool, ['node', '--demo', '--http', 'off', '--data', ws.dataDir],
    { encoding: 'utf8', timeout: 20000 });
  check(r.status === 2 && /built without cairn's delivery demo/.test(r.stderr),
    `exit ${r.status}, stderr ${JSON.stringify(r.stderr)}`);
});

steps.finish();
