#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Actors as MCP resources, from the user's side: raw HTTP (fetch), no SDK,
// against `cairn node` with the default profile (the delivery demo's
// place_order, order_status and echo tools).
//   A) resources/templates/list offers cairn://actors/{id} and
//      cairn://actors/{id}/journal; completion/complete lists the ids of
//      placed orders, percent-encoded
//   B) resources/read of an order actor shows its state, of its journal the
//      events
//   C) subscriptions fire when an actor's state changes: subscriptions/listen
//      on the 2026-07-28 wire, resources/subscribe and the GET stream in a
//      2025-11-25 session
//   D) tokens: only a full-access token (--mcp-token SECRET:*) reads actors
//   E) an unknown actor is a JSON-RPC error -32602 with data.uri (SEP-2164)
//   F) a token that may not read actors can neither enumerate them through
//      completion nor watch them through subscriptions
//
// Usage: node resources.mjs --cairn BIN [--verbose]
// Exit: 0 all passed, 1 a step failed.

import path from 'node:path';

import { CairnHttpNode, StepFailure, Steps, check, makeWorkspace, parseOptions, pollUntil, toolText } from './lib/harness.mjs';
import {
  INVALID_PARAMS,
  SESSION_VERSION,
  STATELESS_VERSION,
  Session,
  SseStream,
  configureWire,
  expectError,
  expectResult,
  headersFor,
  httpTap,
  routingHeaders,
  section,
  short,
  stateless,
  statelessBody,
} from './lib/wire.mjs';

const USAGE = 'usage: resources.mjs --cairn BIN [--verbose]';
const NOTIFY_WITHIN_MS = 10000;

const STATE_TEMPLATE = 'cairn://actors/{id}';
const JOURNAL_TEMPLATE = 'cairn://actors/{id}/journal';
const actorUri = (id) => `cairn://actors/${encodeURIComponent(id)}`;
const journalUri = (id) => `${actorUri(id)}/journal`;

const options = parseOptions(process.argv.slice(2), USAGE);
const workspace = makeWorkspace('cairn-resources');
configureWire({ clientName: 'cairn-resources' });

// ---------------------------------------------------------------------------
// Nodes: the default profile (the delivery demo's tools), with --mcp-token
// flags when given.

const nodes = [];
const steps = new Steps({ wireTaps: () => [httpTap], logs: () => nodes.map((n) => n.output) });

async function startNode(name, mcpTokens = []) {
  // The demo's payment gateway never fails here (--flaky-rate 0): nothing
  // in these runs depends on a drawn failure.
  const node = new CairnHttpNode({ cairn: options.cairn, dataDir: path.join(workspace.dir, name), profile: null, mcpTokens, extraArgs: ['--flaky-rate', '0'], verbose: options.verbose });
  nodes.push(node);
  await node.start();
  return node;
}

// 2025-11-25 sessions here must offer resource subscriptions.
function openSession(node) {
  return Session.open(node, {
    strictVersion: true,
    checkResult: (result) =>
      check(result.capabilities?.resources?.subscribe === true, `initialize: capabilities.resources.subscribe is not true: ${short(result.capabilities)}`),
  });
}

const isUpdated = (uri) => (message) => message.method === 'notifications/resources/updated' && message.params?.uri === uri;

// ---------------------------------------------------------------------------
// The delivery demo and the actor resources.

function orderArguments(orderId) {
  return { order_id: orderId, customer: 'ada', sku: 'kettle', region: 'north', quantity: 2, amount_cents: 4200 };
}

function expectPlaced(result, orderId, what) {
  check(result.isError !== true, `${what}: the tool answered an error: ${short(result)}`);
  const placed = result.structuredContent;
  check(placed?.order === `order/${orderId}` && placed?.accepted === true, `${what}: expected structuredContent {order:"order/${orderId}", accepted:true}, got ${short(result)}`);
  return placed;
}

async function placeOrder(node, orderId, { token } = {}) {
  const result = expectResult(await stateless(node, 'tools/call', { name: 'place_order', arguments: orderArguments(orderId) }, { token }), `place_order ${orderId}`);
  return expectPlaced(result, orderId, `place_order ${orderId}`);
}

// resources/read of an actor resource: one application/json text content for
// `uri`, parsed.
function actorContents(result, uri, what) {
  const contents = result?.contents;
  check(Array.isArray(contents) && contents.length === 1, `${what}: expected one content, got ${short(result)}`);
  const [content] = contents;
  check(content.uri === uri, `${what}: content uri ${JSON.stringify(content.uri)}, expected ${JSON.stringify(uri)}`);
  check(content.mimeType === 'application/json', `${what}: mimeType ${JSON.stringify(content.mimeType)}, expected application/json`);
  check(typeof content.text === 'string', `${what}: content has no text: ${short(content)}`);
  try {
    return JSON.parse(content.text);
  } catch (error) {
    throw new StepFailure(`${what}: content text is not JSON (${error.message}): ${short(content.text)}`);
  }
}

// Reads an order actor until its state shows a stage.
async function readOrderState(node, orderId, { token, timeoutMs = 15000 } = {}) {
  const uri = actorUri(`order/${orderId}`);
  return pollUntil(
    async () => {
      const reply = await stateless(node, 'resources/read', { uri }, { token });
      if (!reply.message || !('result' in reply.message)) return { done: false, value: reply.message ?? reply.text };
      const actor = actorContents(reply.message.result, uri, `resources/read ${uri}`);
      // A new order's stage is "" before its first step: wait for a step
      // to have run (an event journaled), not just for the field.
      return { done: typeof actor.state?.stage === 'string' && actor.journal_length >= 1, value: actor };
    },
    { timeoutMs, intervalMs: 200, what: `state.stage after a first step in resources/read ${uri}` },
  );
}

// -32602 and no result; on the 2026-07-28 wire it may come with HTTP 200 or 400.
function expectNotFound(reply, uri, what) {
  const error = expectError(reply, { status: [200, 400], code: INVALID_PARAMS, noResult: true, showData: true }, what);
  check(error.data?.uri === uri, `${what}: error data.uri ${JSON.stringify(error.data?.uri)}, expected ${JSON.stringify(uri)}; error ${short(error)}`);
  return error;
}

function completeActorIds(node, value, { token } = {}) {
  return stateless(node, 'completion/complete', { ref: { type: 'ref/resource', uri: STATE_TEMPLATE }, argument: { name: 'id', value } }, { token });
}

// ---------------------------------------------------------------------------

console.log(`resources: actors as MCP resources, raw HTTP against ${options.cairn}`);

// ===== A) templates and completion ==========================================
section();
let open;
await steps.run('A) start a node (default profile, no tokens)', async () => {
  open = await startNode('open');
  return open.baseUrl;
});

await steps.run(`A) ${STATELESS_VERSION} resources/templates/list offers ${STATE_TEMPLATE} and ${JOURNAL_TEMPLATE}, with ttlMs/cacheScope/resultType`, async () => {
  const result = expectResult(await stateless(open, 'resources/templates/list'), 'resources/templates/list');
  const templates = result.resourceTemplates;
  check(Array.isArray(templates), `no resourceTemplates array: ${short(result)}`);
  for (const uriTemplate of [STATE_TEMPLATE, JOURNAL_TEMPLATE]) {
    const t = templates.find((x) => x.uriTemplate === uriTemplate);
    check(t, `${uriTemplate} missing from ${JSON.stringify(templates.map((x) => x.uriTemplate))}`);
    check(typeof t.name === 'string' && t.name.length > 0, `${uriTemplate} has no name: ${short(t)}`);
    check(typeof t.description === 'string' && t.description.length > 0, `${uriTemplate} has no description: ${short(t)}`);
  }
  check(Number.isInteger(result.ttlMs) && result.ttlMs >= 0, `ttlMs ${JSON.stringify(result.ttlMs)}, expected an integer >= 0`);
  check(['public', 'private'].includes(result.cacheScope), `cacheScope ${JSON.stringify(result.cacheScope)}, expected public or private`);
  check(result.resultType === 'complete', `resultType ${JSON.stringify(result.resultType)}, expected "complete"`);
  return `${templates.map((t) => `${t.uriTemplate} (${t.name})`).join(', ')}; ttlMs ${result.ttlMs}, cacheScope ${result.cacheScope}`;
});

await steps.run('A) place_order r1 is accepted as order/r1', async () => {
  const placed = await placeOrder(open, 'r1');
  return JSON.stringify(placed);
});

await steps.run(`A) completion/complete of ${STATE_TEMPLATE} id "order%2F" lists order%2Fr1`, async () => {
  const result = expectResult(await completeActorIds(open, 'order%2F'), 'completion/complete');
  const values = result.completion?.values;
  check(Array.isArray(values), `no completion.values: ${short(result)}`);
  check(values.includes('order%2Fr1'), `values ${JSON.stringify(values)} lack "order%2Fr1"`);
  const stray = values.filter((v) => !v.startsWith('order%2F'));
  check(stray.length === 0, `values not starting with "order%2F": ${JSON.stringify(stray)}`);
  return `values ${JSON.stringify(values)}, total ${result.completion.total}, hasMore ${result.completion.hasMore}`;
});

// ===== B) reading an actor and its journal ==================================
section();
await steps.run(`B) resources/read ${actorUri('order/r1')} shows the order's state with a stage`, async () => {
  const actor = await readOrderState(open, 'r1');
  check(actor.id === 'order/r1', `id ${JSON.stringify(actor.id)}, expected "order/r1": ${short(actor)}`);
  check(actor.state && typeof actor.state === 'object', `no state object: ${short(actor)}`);
  return short(actor, 240);
});

await steps.run(`B) resources/read ${journalUri('order/r1')} is {id, events:[{seq, type}, …]} with at least one event`, async () => {
  const uri = journalUri('order/r1');
  const journal = actorContents(expectResult(await stateless(open, 'resources/read', { uri }), `resources/read ${uri}`), uri, `resources/read ${uri}`);
  check(journal.id === 'order/r1', `id ${JSON.stringify(journal.id)}, expected "order/r1": ${short(journal)}`);
  check(Array.isArray(journal.events) && journal.events.length >= 1, `expected at least one event: ${short(journal)}`);
  let previous = 0;
  for (const event of journal.events) {
    check(Number.isInteger(event.seq) && event.seq > previous, `event seq ${JSON.stringify(event.seq)} after ${previous} is not an increasing integer: ${short(journal)}`);
    check(typeof event.type === 'string' && event.type.length > 0, `event ${event.seq} has no type: ${short(event)}`);
    previous = event.seq;
  }
  return `${journal.events.length} event(s): ${journal.events.map((e) => `${e.seq} ${e.type}`).join(', ')}`;
});

// ===== C) subscriptions ======================================================
section();
await steps.run(`C) ${STATELESS_VERSION} subscriptions/listen on ${actorUri('order/r2')}: acknowledged, then place_order r2 sends resources/updated within ${NOTIFY_WITHIN_MS / 1000} s`, async () => {
  const uri = actorUri('order/r2');
  const params = { notifications: { resourceSubscriptions: [uri] } };
  const stream = await SseStream.open(open.mcpUrl, {
    headers: headersFor({ extra: routingHeaders('subscriptions/listen', params) }),
    body: statelessBody('subscriptions/listen', params),
    label: 'subscriptions/listen stream',
  });
  try {
    const first = await stream.waitFor(() => true, { timeoutMs: NOTIFY_WITHIN_MS, what: 'the first frame' });
    check(first.method === 'notifications/subscriptions/acknowledged', `first frame is ${short(first)}, expected notifications/subscriptions/acknowledged`);
    const subscriptionId = first.params?._meta?.['io.modelcontextprotocol/subscriptionId'];
    check(subscriptionId !== undefined, `acknowledgement has no _meta subscriptionId: ${short(first)}`);
    const honoured = first.params?.notifications?.resourceSubscriptions ?? [];
    check(honoured.includes(uri), `acknowledgement does not list ${uri}: ${short(first)}`);
    const started = Date.now();
    await placeOrder(open, 'r2');
    const updated = await stream.waitFor(isUpdated(uri), { timeoutMs: NOTIFY_WITHIN_MS, what: `notifications/resources/updated for ${uri}` });
    const ms = Date.now() - started;
    const id = updated.params?._meta?.['io.modelcontextprotocol/subscriptionId'];
    check(id === subscriptionId, `resources/updated carries subscriptionId ${JSON.stringify(id)}, expected ${JSON.stringify(subscriptionId)} as acknowledged: ${short(updated)}`);
    return `subscriptionId ${JSON.stringify(subscriptionId)}, updated ${ms} ms after place_order`;
  } finally {
    stream.close();
  }
});

await steps.run(`C) ${SESSION_VERSION} session: resources/subscribe ${actorUri('order/r3')}, place_order r3, resources/updated on the GET stream within ${NOTIFY_WITHIN_MS / 1000} s`, async () => {
  const uri = actorUri('order/r3');
  const session = await openSession(open);
  const stream = await SseStream.open(open.mcpUrl, { method: 'GET', headers: session.headers({ accept: 'text/event-stream' }), label: 'GET /mcp stream' });
  try {
    const subscribed = expectResult(await session.request('resources/subscribe', { uri }), `resources/subscribe ${uri}`);
    check(subscribed && typeof subscribed === 'object', `resources/subscribe answered ${short(subscribed)}`);
    const started = Date.now();
    const call = await session.request('tools/call', { name: 'place_order', arguments: orderArguments('r3') });
    expectPlaced(expectResult(call, 'tools/call place_order r3 in the session'), 'r3', 'tools/call place_order r3 in the session');
    const updated = await stream.waitFor(isUpdated(uri), { timeoutMs: NOTIFY_WITHIN_MS, what: `notifications/resources/updated for ${uri}` });
    return `session ${session.id.slice(0, 8)}…, tools/call answered as ${call.headers.get('content-type')}, ${short(updated, 160)} ${Date.now() - started} ms after the call`;
  } finally {
    stream.close();
  }
});

// ===== D) tokens =============================================================
section();
let scoped;
await steps.run('D) start a node with --mcp-token full:* --mcp-token narrow:echo', async () => {
  scoped = await startNode('scoped', ['full:*', 'narrow:echo']);
  return scoped.baseUrl;
});

await steps.run('D) full: place_order s1, then resources/read of order/s1 and its journal work', async () => {
  await placeOrder(scoped, 's1', { token: 'full' });
  const actor = await readOrderState(scoped, 's1', { token: 'full' });
  const uri = journalUri('order/s1');
  const journal = actorContents(expectResult(await stateless(scoped, 'resources/read', { uri }, { token: 'full' }), `full resources/read ${uri}`), uri, `full resources/read ${uri}`);
  check(Array.isArray(journal.events) && journal.events.length >= 1, `journal has no events: ${short(journal)}`);
  return `stage ${JSON.stringify(actor.state.stage)}, ${journal.events.length} journal event(s)`;
});

await steps.run('D) narrow: resources/read of order/s1 and of its journal are -32602 not found (data.uri), never contents', async () => {
  const errors = [];
  for (const uri of [actorUri('order/s1'), journalUri('order/s1')]) {
    const reply = await stateless(scoped, 'resources/read', { uri }, { token: 'narrow' });
    check(!reply.text.includes('"stage"') && !reply.text.includes('"events"'), `narrow read ${uri} and got the actor's data: ${short(reply.text)}`);
    errors.push(expectNotFound(reply, uri, `narrow resources/read ${uri}`).message);
  }
  const echoed = expectResult(await stateless(scoped, 'tools/call', { name: 'echo', arguments: { text: 'still here' } }, { token: 'narrow' }), 'narrow tools/call echo');
  check(toolText(echoed) === 'still here', `echo answered ${short(echoed)}`);
  return errors.map((m) => JSON.stringify(m)).join(', ');
});

await steps.run('D) narrow: resources/templates/list may list the templates', async () => {
  const reply = await stateless(scoped, 'resources/templates/list', {}, { token: 'narrow' });
  if (reply.message?.error) return `refused: ${reply.message.error.code} ${JSON.stringify(reply.message.error.message)}`;
  const result = expectResult(reply, 'narrow resources/templates/list');
  check(Array.isArray(result.resourceTemplates), `no resourceTemplates array: ${short(result)}`);
  return `listed: ${JSON.stringify(result.resourceTemplates.map((t) => t.uriTemplate))}`;
});

// ===== E) unknown actor ======================================================
section();
await steps.run(`E) resources/read ${actorUri('nope/x')} (no such actor) is -32602 with data.uri (SEP-2164), never empty contents`, async () => {
  const results = [];
  for (const uri of [actorUri('nope/x'), journalUri('nope/x')]) {
    const error = expectNotFound(await stateless(open, 'resources/read', { uri }), uri, `resources/read ${uri}`);
    results.push(`${uri}: ${JSON.stringify(error.message)}`);
  }
  return results.join('; ');
});

// ===== F) what a narrow token learns about actors ============================
section();
await steps.run('F) narrow: completion lists no actor ids, and subscriptions/listen does not take (so never delivers) a subscription to an actor it cannot read', async () => {
  const leaks = [];
  for (const value of ['', 'order%2F', 'tool.']) {
    const reply = await completeActorIds(scoped, value, { token: 'narrow' });
    const values = reply.message?.result?.completion?.values ?? [];
    if (values.length > 0) leaks.push(`completion/complete id ${JSON.stringify(value)} lists ${short(values, 240)}`);
  }
  // The same subscription under both tokens: the acknowledgement lists the
  // subscriptions a stream will be sent, so the narrow one must leave the
  // actor out while the full one keeps it, and the full one must then see
  // the update (proof it was published). No waiting for silence: whatever
  // the narrow stream got by then is all there is to check.
  const uri = actorUri('order/s2');
  const params = { notifications: { resourceSubscriptions: [uri] } };
  const listen = (token) =>
    SseStream.open(scoped.mcpUrl, {
      headers: headersFor({ token, extra: routingHeaders('subscriptions/listen', params) }),
      body: statelessBody('subscriptions/listen', params),
      label: `${token} subscriptions/listen stream`,
    });
  const acknowledged = (stream) =>
    stream.waitFor((m) => m.method === 'notifications/subscriptions/acknowledged', { timeoutMs: NOTIFY_WITHIN_MS, what: `the acknowledgement on ${stream.label}` });
  const narrow = await listen('narrow');
  let full;
  try {
    full = await listen('full');
    const narrowAck = await acknowledged(narrow);
    const fullAck = await acknowledged(full);
    const narrowUris = narrowAck.params?.notifications?.resourceSubscriptions ?? [];
    const fullUris = fullAck.params?.notifications?.resourceSubscriptions ?? [];
    check(fullUris.includes(uri), `the full token's acknowledgement does not list ${uri}: ${short(fullAck)}`);
    if (narrowUris.includes(uri)) leaks.push(`subscriptions/listen acknowledges ${uri} for narrow: ${short(narrowAck, 240)}`);
    await placeOrder(scoped, 's2', { token: 'full' });
    await full.waitFor(isUpdated(uri), { timeoutMs: NOTIFY_WITHIN_MS, what: `resources/updated for ${uri} on the full stream` });
    const delivered = narrow.messages.filter(isUpdated(uri));
    if (delivered.length > 0) leaks.push(`subscriptions/listen delivers ${short(delivered[0], 240)} for an actor narrow may not read`);
    check(leaks.length === 0, `a token without actor access learns about actors:\n    - ${leaks.join('\n    - ')}`);
    return `completion empty; narrow acknowledged ${JSON.stringify(narrowUris)}, full ${JSON.stringify(fullUris)}; the update reached full only`;
  } finally {
    narrow.close();
    full?.close();
  }
});

for (const node of nodes) await node.stop();
steps.finish();
