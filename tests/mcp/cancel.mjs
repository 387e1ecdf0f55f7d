#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Cancellation, progress and pagination of cairn's MCP server, from the
// user's side: raw HTTP (fetch) against `cairn node --profile conformance`
// and raw stdio lines against `cairn mcp stdio`, no SDK.
//   A) 2025-11-25 session: notifications/cancelled for a running tools/call
//      ends its SSE stream without a response (a cancelled request gets
//      none), and the call's actor (cairn://actors/{id}) shows "cancelled"
//   B) 2026-07-28 wire: a progressToken gets notifications/progress on the
//      call's SSE stream, non-decreasing, then the result
//   C) pagination: tools/list followed through nextCursor has no duplicates
//      and is the same twice; a cursor that is not a string is -32602
//   D) stdio: tools/list over two pages (extra tools from --config), then
//      notifications/cancelled gets no response line, ping still answers,
//      closing stdin exits 0
//   E) 2026-07-28 wire: a client closing its connection mid-call cancels the
//      call. Last, so that a slow detection there does not keep the other
//      checks from running.
//
// Usage: node cancel.mjs --cairn BIN [--verbose]
// Exit: 0 all passed, 1 a step failed.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  CairnHttpNode,
  StepFailure,
  Steps,
  cairnFeatures,
  check,
  makeWorkspace,
  parseOptions,
  pollUntil,
  stdioServerArgs,
  toolText,
  wordCountTool,
} from './lib/harness.mjs';
import {
  INVALID_PARAMS,
  SESSION_VERSION,
  STATELESS_VERSION,
  Session,
  SseStream,
  StdioServer,
  configureWire,
  expectMessageError,
  expectResult,
  headersFor,
  httpTap,
  initializeParams,
  isResponse,
  parseLine,
  routingHeaders,
  rpc,
  section,
  short,
  stateless,
  statelessBody,
  statelessMeta,
  stdioTap,
} from './lib/wire.mjs';

const USAGE = 'usage: cancel.mjs --cairn BIN [--verbose]';

const STATE_TEMPLATE = 'cairn://actors/{id}';
const SLOW_PREFIX = 'tool.slow_compute%2F'; // completion values are percent-encoded actor ids
const CANCEL_AFTER_MS = 300;
const CANCELLED_WITHIN_MS = 5000;
const STDIO_SILENCE_MS = 3000;
const EXTRA_TOOLS = 20; // the fixture has ~40 tools and pages hold 50: these make two pages

const options = parseOptions(process.argv.slice(2), USAGE);
const features = cairnFeatures(options.cairn);
const workspace = makeWorkspace('cairn-cancel');
configureWire({ clientName: 'cairn-cancel', firstId: 100 }); // below 100: the ids the checks name (7, 5, 6)

let node;
let stdioServer;
const steps = new Steps({
  wireTaps: () => [httpTap, stdioTap],
  logs: () => [node?.output, stdioServer?.stderr].filter(Boolean),
});

// The 2026-07-28 wire as a client like a Session or the StdioServer:
// result() for a request whose answer must be a result, a tap for watchStatus.
const statelessClient = (target) => ({
  tap: httpTap,
  async result(method, params = {}) {
    return expectResult(await stateless(target, method, params), `${STATELESS_VERSION} ${method}`);
  },
});

const withProgress = (progressToken) => ({ meta: statelessMeta({ progressToken }) });

// ---------------------------------------------------------------------------
// Tool calls as actors: completion/complete lists their percent-encoded ids,
// resources/read of cairn://actors/{id} shows their state.

async function slowComputeActors(client) {
  const result = await client.result('completion/complete', { ref: { type: 'ref/resource', uri: STATE_TEMPLATE }, argument: { name: 'id', value: SLOW_PREFIX } });
  const values = result.completion?.values;
  check(Array.isArray(values), `completion/complete: no completion.values: ${short(result)}`);
  const stray = values.filter((v) => !v.startsWith(SLOW_PREFIX));
  check(stray.length === 0, `completion/complete "${SLOW_PREFIX}": values not starting with it: ${JSON.stringify(stray)}`);
  check(result.completion.hasMore !== true, `completion/complete: hasMore is true, the list is cut short: ${short(result)}`);
  return values;
}

// The one slow_compute actor that is not among `before`, once it shows up.
async function newSlowComputeActor(client, before, what) {
  const fresh = await pollUntil(
    async () => {
      const value = (await slowComputeActors(client)).filter((v) => !before.includes(v));
      return { done: value.length > 0, value };
    },
    { timeoutMs: CANCELLED_WITHIN_MS, intervalMs: 100, what: `${what}: a new ${SLOW_PREFIX}… id in completion/complete` },
  );
  check(fresh.length === 1, `${what}: expected one new slow_compute actor, completion lists ${JSON.stringify(fresh)}`);
  return fresh[0];
}

async function readActor(client, value) {
  const uri = `cairn://actors/${value}`;
  const result = await client.result('resources/read', { uri });
  const contents = result?.contents;
  check(Array.isArray(contents) && contents.length === 1, `resources/read ${uri}: expected one content, got ${short(result)}`);
  const [content] = contents;
  check(content.uri === uri, `resources/read ${uri}: content uri ${JSON.stringify(content.uri)}`);
  check(typeof content.text === 'string', `resources/read ${uri}: content has no text: ${short(content)}`);
  let actor;
  try {
    actor = JSON.parse(content.text);
  } catch (error) {
    throw new StepFailure(`resources/read ${uri}: content text is not JSON (${error.message}): ${short(content.text)}`);
  }
  check(actor.id === decodeURIComponent(value), `resources/read ${uri}: id ${JSON.stringify(actor.id)}, expected ${JSON.stringify(decodeURIComponent(value))}`);
  return actor;
}

const terminal = (status) => ['completed', 'failed', 'cancelled'].includes(status);

// Follows the actor until `until` accepts its status or `timeoutMs` passed;
// returns {status, ms, actor}, ms counted from `since`. The traffic log gets
// one line per status seen, not every read.
async function watchStatus(client, value, { since, timeoutMs, until = (s) => s === 'cancelled' }) {
  const deadline = since + timeoutMs;
  const tap = client.tap;
  const changes = [];
  let reads = 0;
  try {
    for (;;) {
      tap.muted = true;
      const actor = await readActor(client, value).finally(() => {
        tap.muted = false;
      });
      reads++;
      const status = actor.state?.status;
      const ms = Date.now() - since;
      if (changes.at(-1)?.status !== status) changes.push({ status, ms, state: actor.state });
      if (until(status) || Date.now() > deadline) return { status, ms, actor };
      await sleep(100);
    }
  } finally {
    const seen = changes.map((c) => `${JSON.stringify(c.status)} at ${c.ms} ms ${short(c.state, 160)}`).join(', then ');
    tap.record(`… resources/read cairn://actors/${value} read ${reads} time(s): ${seen || 'nothing'}`);
  }
}

// ---------------------------------------------------------------------------
// Pagination: tools/list through every nextCursor.

async function listAllTools(client, what) {
  const names = [];
  const pages = [];
  const cursors = new Set();
  let cursor;
  for (;;) {
    const result = await client.result('tools/list', cursor === undefined ? {} : { cursor });
    check(Array.isArray(result.tools), `${what}: tools/list page ${pages.length + 1} has no tools array: ${short(result)}`);
    pages.push(result.tools.length);
    names.push(...result.tools.map((tool) => tool.name));
    if (result.nextCursor === undefined) break;
    check(typeof result.nextCursor === 'string', `${what}: nextCursor ${JSON.stringify(result.nextCursor)} is not a string`);
    check(!cursors.has(result.nextCursor), `${what}: nextCursor ${JSON.stringify(result.nextCursor)} given twice: the listing loops (pages ${pages.join('+')})`);
    check(pages.length < 50, `${what}: more than 50 pages`);
    cursors.add(result.nextCursor);
    cursor = result.nextCursor;
  }
  const seen = new Set();
  const duplicates = names.filter((name) => seen.has(name) || !seen.add(name));
  check(duplicates.length === 0, `${what}: tools listed twice across pages ${pages.join('+')}: ${JSON.stringify(duplicates)}`);
  return { names, pages };
}

async function checkPagination(client, what, expectTools) {
  const first = await listAllTools(client, what);
  const second = await listAllTools(client, `${what} (again)`);
  check(
    JSON.stringify(first.names) === JSON.stringify(second.names),
    `${what}: two full listings differ:\n    first  ${JSON.stringify(first.names)}\n    second ${JSON.stringify(second.names)}`,
  );
  const missing = expectTools.filter((name) => !first.names.includes(name));
  check(missing.length === 0, `${what}: ${JSON.stringify(missing)} missing from ${JSON.stringify(first.names)}`);
  return first;
}

// A cursor the server never handed out is invalid: -32602.
function noteForgedCursor(message, where) {
  const got = message?.error ? `error ${message.error.code} ${JSON.stringify(message.error.message)}` : `a result with ${message?.result?.tools?.length} tool(s)`;
  check(message?.error?.code === INVALID_PARAMS,
        `${where}: tools/list {cursor:"not-a-cursor"} (never handed out) answers ${got}, expected -32602`);
}

// ---------------------------------------------------------------------------

console.log(`cancel: cancellation, progress and pagination, raw HTTP and stdio against ${options.cairn}`);

await steps.run('start a node (conformance profile)', async () => {
  node = new CairnHttpNode({ cairn: options.cairn, dataDir: path.join(workspace.dir, 'node'), verbose: options.verbose });
  await node.start();
  return node.baseUrl;
});

// ===== A) notifications/cancelled in a 2025-11-25 session ===================
section();
let session;
await steps.run(`A) ${SESSION_VERSION} session (initialize, Mcp-Session-Id, notifications/initialized)`, async () => {
  session = await Session.open(node, { strictVersion: true });
  return `session ${session.id.slice(0, 8)}…`;
});

let c1;
await steps.run(
  `A) tools/call slow_compute {seconds:30,label:"c1"} id 7 streams; notifications/cancelled after ${CANCEL_AFTER_MS} ms is 202 and the stream ends within ${CANCELLED_WITHIN_MS / 1000} s without a response`,
  async () => {
    const before = await slowComputeActors(session);
    const call = rpc('tools/call', { name: 'slow_compute', arguments: { seconds: 30, label: 'c1' } }, 7);
    const stream = await SseStream.open(node.mcpUrl, { headers: session.headers(), body: call, label: 'tools/call id 7 stream' });
    try {
      await sleep(CANCEL_AFTER_MS);
      check(!stream.messages.some(isResponse), `a response arrived before the cancellation: ${stream.seen()}`);
      const cancel = await session.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7, reason: 'user' } });
      check(cancel.status === 202, `notifications/cancelled: HTTP ${cancel.status}, expected 202; body ${short(cancel.text)}`);
      const started = Date.now();
      const ended = await stream.waitEnd({ timeoutMs: CANCELLED_WITHIN_MS, what: 'the end of the stream after notifications/cancelled' });
      const ms = Date.now() - started;
      check(ended !== 'aborted', 'the stream was aborted by this script, not ended by the server');
      const answered = stream.messages.filter((m) => m.id === 7 && isResponse(m));
      check(answered.length === 0, `the cancelled request got a response (the spec says it gets none): ${short(answered)}`);
      c1 = await newSlowComputeActor(session, before, 'slow_compute c1');
      return `${ended} ${ms} ms after the cancellation; ${stream.messages.length} message(s) on it, none for id 7`;
    } finally {
      stream.close();
    }
  },
);

await steps.run(`A) c1's actor (found through completion/complete "${SLOW_PREFIX}") reads state.status "cancelled" from cairn://actors/{id}`, async () => {
  check(c1, 'no actor id from the step before');
  const { status, ms, actor } = await watchStatus(session, c1, { since: Date.now(), timeoutMs: CANCELLED_WITHIN_MS, until: terminal });
  check(status === 'cancelled', `cairn://actors/${c1}: state.status ${JSON.stringify(status)} ${ms} ms on, expected "cancelled": ${short(actor)}`);
  return `cairn://actors/${c1}: ${short(actor.state, 200)}`;
});

// ===== B) progress on the 2026-07-28 wire ===================================
section();
await steps.run(`B) ${STATELESS_VERSION} tools/call test_tool_with_progress with progressToken "p-1": ≥3 notifications/progress, non-decreasing, then the result`, async () => {
  const params = { name: 'test_tool_with_progress', arguments: {} };
  const call = statelessBody('tools/call', params, withProgress('p-1'));
  const stream = await SseStream.open(node.mcpUrl, { headers: headersFor({ extra: routingHeaders('tools/call', params) }), body: call, label: 'test_tool_with_progress stream' });
  try {
    const response = await stream.waitFor((m) => m.id === call.id && isResponse(m), { what: `the response for id ${call.id}` });
    check(response.result, `the call failed: ${short(response)}`);
    check(response.result.resultType === 'complete', `resultType ${JSON.stringify(response.result.resultType)}, expected "complete": ${short(response)}`);
    const before = stream.messages.slice(0, stream.messages.indexOf(response));
    const progress = before.filter((m) => m.method === 'notifications/progress');
    const foreign = progress.filter((m) => m.params?.progressToken !== 'p-1');
    check(foreign.length === 0, `progress for another token: ${short(foreign)}`);
    check(progress.length >= 3, `${progress.length} notifications/progress before the result, expected at least 3; seen ${stream.seen()}`);
    const values = progress.map((m) => m.params.progress);
    check(values.every((v) => typeof v === 'number'), `progress values are not all numbers: ${JSON.stringify(values)}`);
    check(values.every((v, i) => i === 0 || v >= values[i - 1]), `progress decreases: ${JSON.stringify(values)}`);
    for (const m of progress) {
      const total = m.params.total;
      if (total !== undefined) check(m.params.progress <= total, `progress ${m.params.progress} above total ${total}: ${short(m)}`);
    }
    const after = stream.messages.slice(stream.messages.indexOf(response) + 1).filter((m) => m.method === 'notifications/progress');
    check(after.length === 0, `progress after the result: ${short(after)}`);
    return `progress ${JSON.stringify(values)} of ${progress[0].params.total}, then ${JSON.stringify(toolText(response.result))} (resultType complete)`;
  } finally {
    stream.close();
  }
});

// ===== C) pagination ========================================================
section();
await steps.run(`C) ${SESSION_VERSION} tools/list through every nextCursor: no duplicates, the same twice`, async () => {
  const { names, pages } = await checkPagination(session, 'session', ['slow_compute', 'test_tool_with_progress']);
  return `${names.length} tools on ${pages.length} page(s) (${pages.join('+')})`;
});

await steps.run('C) tools/list {cursor:123} (not a string) is -32602', async () => {
  const reply = await session.post(rpc('tools/list', { cursor: 123 }));
  check(reply.status === 200, `HTTP ${reply.status}, expected 200; body ${short(reply.text)}`);
  const error = expectMessageError(reply.message, INVALID_PARAMS, 'tools/list {cursor:123}');
  noteForgedCursor((await session.post(rpc('tools/list', { cursor: 'not-a-cursor' }))).message, `${SESSION_VERSION} session`);
  return JSON.stringify(error.message);
});

// ===== D) stdio =============================================================
section();
await steps.run(`D) stdio: initialize (${SESSION_VERSION}) and notifications/initialized`, async () => {
  let configPath;
  let extra = 'no --config in this cairn: one page of tools';
  if (features.stdioConfig) {
    const tools = Array.from({ length: EXTRA_TOOLS }, (_, i) => ({ ...wordCountTool(), name: `word_count_${String(i).padStart(2, '0')}` }));
    configPath = path.join(workspace.dir, 'paging.json');
    writeFileSync(configPath, `${JSON.stringify({ mcp_tools: tools }, null, 2)}\n`);
    extra = `--config with ${EXTRA_TOOLS} extra exec tools`;
  }
  const args = stdioServerArgs({ dataDir: path.join(workspace.dir, 'stdio'), configPath });
  stdioServer = new StdioServer({ cairn: options.cairn, args, verbose: options.verbose });
  const init = await stdioServer.result('initialize', initializeParams());
  check(init.protocolVersion === SESSION_VERSION, `initialize negotiated ${JSON.stringify(init.protocolVersion)}`);
  stdioServer.write({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return `pid ${stdioServer.pid}, ${extra}`;
});

await steps.run('D) stdio: tools/list through every nextCursor: no duplicates, the same twice; {cursor:123} is -32602', async () => {
  const expected = ['slow_compute', ...(features.stdioConfig ? ['word_count_00', `word_count_${EXTRA_TOOLS - 1}`] : [])];
  const { names, pages } = await checkPagination(stdioServer, 'stdio', expected);
  if (features.stdioConfig) check(pages.length >= 2, `${names.length} tools came on one page (${pages.join('+')}); with a page size of 50 expected more than one`);
  const error = expectMessageError(await stdioServer.call(rpc('tools/list', { cursor: 123 })), INVALID_PARAMS, 'stdio tools/list {cursor:123}');
  noteForgedCursor(await stdioServer.call(rpc('tools/list', { cursor: 'not-a-cursor' })), 'stdio');
  return `${names.length} tools on ${pages.length} page(s) (${pages.join('+')}); bad cursor: ${JSON.stringify(error.message)}`;
});

await steps.run(`D) stdio: tools/call slow_compute {seconds:30,label:"s"} id 5, notifications/cancelled: no line for id 5 within ${STDIO_SILENCE_MS / 1000} s, ping id 6 answered, the call's actor reads "cancelled"`, async () => {
  stdioServer.write(rpc('tools/call', { name: 'slow_compute', arguments: { seconds: 30, label: 's' } }, 5));
  await sleep(CANCEL_AFTER_MS);
  stdioServer.write({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 5, reason: 'user' } });
  const lines = await stdioServer.linesFor(STDIO_SILENCE_MS);
  const answered = lines.filter((m) => m.id === 5);
  check(answered.length === 0, `the cancelled request got a response line (the spec says it gets none): ${short(answered)}`);
  const pong = await stdioServer.call(rpc('ping', undefined, 6));
  check('result' in pong, `ping id 6 answered ${short(pong)}`);
  // The work stopped: the call's actor says so (the only slow_compute here).
  const actors = await slowComputeActors(stdioServer);
  check(actors.length === 1, `expected one slow_compute actor, completion lists ${JSON.stringify(actors)}`);
  const { status, ms, actor } = await watchStatus(stdioServer, actors[0], { since: Date.now(), timeoutMs: CANCELLED_WITHIN_MS, until: terminal });
  check(status === 'cancelled', `cairn://actors/${actors[0]}: state.status ${JSON.stringify(status)} ${ms} ms on, expected "cancelled": ${short(actor)}`);
  return `${lines.length} line(s) in ${STDIO_SILENCE_MS} ms, none for id 5; ping answered ${short(pong)}; its actor reads "cancelled"`;
});

await steps.run('D) stdio: closing stdin ends the process with exit code 0 within 10 s', async () => {
  const started = Date.now();
  stdioServer.child.stdin.end();
  const exit = await Promise.race([stdioServer.exited, sleep(10000).then(() => undefined)]);
  check(exit, `still running 10 s after stdin closed (pid ${stdioServer.pid})`);
  check(exit.code === 0, `exited with code ${exit.code}, signal ${exit.signal}`);
  const late = stdioServer.queue.map(parseLine).filter((m) => m.id === 5);
  check(late.length === 0, `a response for the cancelled id 5 came before the exit: ${short(late)}`);
  return `exit 0 after ${Date.now() - started} ms`;
});

// ===== E) a closed connection cancels on the 2026-07-28 wire ================
section();
await steps.run(
  `E) ${STATELESS_VERSION} tools/call slow_compute {seconds:30,label:"c2"} with a progressToken, connection closed after ${CANCEL_AFTER_MS} ms: the actor shows "cancelled" within ${CANCELLED_WITHIN_MS / 1000} s`,
  async () => {
    const client = statelessClient(node);
    const before = await slowComputeActors(client);
    check(before.includes(c1), `c1's actor ${c1} missing from completion/complete: ${JSON.stringify(before)}`);
    const params = { name: 'slow_compute', arguments: { seconds: 30, label: 'c2' } };
    const call = statelessBody('tools/call', params, withProgress('p-2'));
    const stream = await SseStream.open(node.mcpUrl, { headers: headersFor({ extra: routingHeaders('tools/call', params) }), body: call, label: 'slow_compute c2 stream' });
    await sleep(CANCEL_AFTER_MS);
    check(!stream.ended, `the stream ended before the client closed it (${stream.ended}); seen ${stream.seen()}`);
    stream.close();
    const closedAt = Date.now();
    const c2 = await newSlowComputeActor(client, before, 'slow_compute c2');
    const seen = await watchStatus(client, c2, { since: closedAt, timeoutMs: CANCELLED_WITHIN_MS });
    if (seen.status !== 'cancelled') {
      // Wrong; follow it to its end so the report says what happens instead.
      const end = await watchStatus(client, c2, { since: closedAt, timeoutMs: 35000, until: terminal });
      const outcome = terminal(end.status) ? `it became ${JSON.stringify(end.status)} ${end.ms} ms after the close` : `still ${JSON.stringify(end.status)} ${end.ms} ms after the close`;
      throw new StepFailure(
        `cairn://actors/${c2}: state.status ${JSON.stringify(seen.status)} ${seen.ms} ms after the client closed the connection, expected "cancelled"; ${outcome}`,
      );
    }
    return `cairn://actors/${c2}: "cancelled" ${seen.ms} ms after the close`;
  },
);

await node.stop();
steps.finish();
