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

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  CairnHttpNode,
  OutputRing,
  StepFailure,
  Steps,
  cairnFeatures,
  check,
  killQuietly,
  makeWorkspace,
  onCleanup,
  parseOptions,
  pollUntil,
  toolText,
  wordCountTool,
} from './lib/harness.mjs';

const USAGE = 'usage: cancel.mjs --cairn BIN [--verbose]';
const SESSION_VERSION = '2025-11-25';
const STATELESS_VERSION = '2026-07-28';
const BOTH = 'application/json, text/event-stream';
const INVALID_PARAMS = -32602;

const STATE_TEMPLATE = 'cairn://actors/{id}';
const SLOW_PREFIX = 'tool.slow_compute%2F'; // completion values are percent-encoded actor ids
const CANCEL_AFTER_MS = 300;
const CANCELLED_WITHIN_MS = 5000;
const STDIO_SILENCE_MS = 3000;
const EXTRA_TOOLS = 20; // the fixture has ~40 tools and pages hold 50: these make two pages

const options = parseOptions(process.argv.slice(2), USAGE);
const features = cairnFeatures(options.cairn);
const workspace = makeWorkspace('cairn-cancel');

// ---------------------------------------------------------------------------
// Traffic log: the last exchanges, shown when a step fails.

class TrafficTap {
  constructor(label, limit = 16) {
    this.label = label;
    this.limit = limit;
    this.entries = [];
    this.muted = false; // while polling: the caller records a summary instead
  }

  record(line) {
    if (this.muted) return;
    this.entries.push(line);
    if (this.entries.length > this.limit) this.entries.shift();
  }

  describe(count = 10) {
    return this.entries.slice(-count).join('\n');
  }
}

function short(text, max = 400) {
  const s = typeof text === 'string' ? text : JSON.stringify(text);
  if (s === undefined) return String(s);
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} chars)`;
}

const httpTap = new TrafficTap('raw HTTP');
const stdioTap = new TrafficTap('cairn mcp stdio');

// A failure report shows the traffic of its own section only.
function section() {
  httpTap.entries = [];
  stdioTap.entries = [];
}

let node;
let stdioServer;
const steps = new Steps({
  wireTaps: () => [httpTap, stdioTap],
  logs: () => [node?.output, stdioServer?.stderr].filter(Boolean),
});

// ---------------------------------------------------------------------------
// Raw HTTP with fetch. A reply is {status, headers, text, message}, where
// message is the JSON-RPC response: the JSON body, or the last response
// event of an SSE body.

function sseEvents(text) {
  const messages = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data.trim()) messages.push(JSON.parse(data));
  }
  return messages;
}

const isResponse = (message) => 'result' in message || 'error' in message;

function parseMessage(contentType, text) {
  if (/text\/event-stream/.test(contentType ?? '')) return sseEvents(text).findLast(isResponse);
  if (/json/.test(contentType ?? '') && text.trim()) return JSON.parse(text);
  return undefined;
}

function requestLine(method, url, headers, body) {
  const shown = Object.entries(headers)
    .filter(([k]) => !/^(content-type|accept)$/i.test(k))
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  return `→ ${method} ${new URL(url).pathname} [${shown}] ${short(body ?? '', 300)}`;
}

async function send(url, { method = 'POST', headers = {}, body, timeoutMs = 15000 } = {}) {
  const init = { method, headers, signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const request = requestLine(method, url, headers, init.body);
  let res;
  let text;
  try {
    res = await fetch(url, init);
    text = await res.text();
  } catch (error) {
    httpTap.record(`${request}\n← ${error.cause?.code ?? error.name}: ${error.cause?.message ?? error.message}`);
    throw new StepFailure(`${method} ${url} failed: ${error.cause?.code ?? error.name} ${error.cause?.message ?? error.message}`);
  }
  let message;
  try {
    message = parseMessage(res.headers.get('content-type'), text);
  } catch (error) {
    httpTap.record(`${request}\n← ${res.status} ${short(text, 300)}`);
    throw new StepFailure(`${method} ${url}: HTTP ${res.status} body is not valid JSON(-RPC): ${short(text)} (${error.message})`);
  }
  const sse = /text\/event-stream/.test(res.headers.get('content-type') ?? '');
  httpTap.record(`${request}\n← ${res.status} ${sse ? `(SSE) ${short(message, 300)}` : short(text, 300)}`);
  return { status: res.status, headers: res.headers, text, message };
}

function headersFor({ accept = BOTH, extra = {} } = {}) {
  return { 'Content-Type': 'application/json', Accept: accept, ...extra };
}

let nextId = 100; // below 100: the ids the checks name (7, 5, 6)
const rpc = (method, params, id = nextId++) => ({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });

function expectResult(reply, what) {
  check(reply.status === 200, `${what}: HTTP ${reply.status}, expected 200; body ${short(reply.text)}`);
  check(reply.message && 'result' in reply.message, `${what}: expected a JSON-RPC result, got ${short(reply.text)}`);
  return reply.message.result;
}

// A JSON-RPC error with `code` and no result (HTTP 200 in a session).
function expectError(message, code, what) {
  check(message && !('result' in message), `${what}: expected a JSON-RPC error, got a result: ${short(message)}`);
  const error = message.error;
  check(error, `${what}: expected a JSON-RPC error, got ${short(message)}`);
  check(error.code === code, `${what}: JSON-RPC error code ${error.code}, expected ${code}; message ${JSON.stringify(error.message)}`);
  return error;
}

// ---------------------------------------------------------------------------
// 2025-11-25 sessions: initialize, then every request carries the session id.

class Session {
  constructor(node, id) {
    this.node = node;
    this.id = id;
    this.tap = httpTap;
  }

  static async open(node) {
    const init = rpc('initialize', { protocolVersion: SESSION_VERSION, capabilities: {}, clientInfo: { name: 'cairn-cancel', version: '1.0.0' } });
    const reply = await send(node.mcpUrl, { headers: headersFor(), body: init });
    const result = expectResult(reply, 'initialize');
    check(result.protocolVersion === SESSION_VERSION, `initialize negotiated ${JSON.stringify(result.protocolVersion)}, expected ${SESSION_VERSION}`);
    const id = reply.headers.get('mcp-session-id');
    check(id, `initialize: no Mcp-Session-Id header in the answer (headers ${JSON.stringify([...reply.headers])})`);
    const session = new Session(node, id);
    const ack = await session.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    check(ack.status === 202, `notifications/initialized: HTTP ${ack.status}, expected 202; body ${short(ack.text)}`);
    return session;
  }

  headers() {
    return headersFor({ extra: { 'mcp-session-id': this.id, 'mcp-protocol-version': SESSION_VERSION } });
  }

  post(body) {
    return send(this.node.mcpUrl, { headers: this.headers(), body });
  }

  async request(method, params) {
    return expectResult(await this.post(rpc(method, params)), `${method} in the session`);
  }
}

// ---------------------------------------------------------------------------
// 2026-07-28 stateless requests: version and capabilities in _meta, routing
// headers mirrored from the body.

function statelessMeta(extra = {}) {
  return {
    'io.modelcontextprotocol/protocolVersion': STATELESS_VERSION,
    'io.modelcontextprotocol/clientCapabilities': {},
    ...extra,
  };
}

function routingHeaders(method, params) {
  const headers = { 'MCP-Protocol-Version': STATELESS_VERSION, 'Mcp-Method': method };
  const name = method === 'tools/call' || method === 'prompts/get' ? params?.name : method === 'resources/read' ? params?.uri : undefined;
  if (name !== undefined) headers['Mcp-Name'] = name;
  return headers;
}

function statelessBody(method, params = {}, meta = {}) {
  return rpc(method, { ...params, _meta: statelessMeta(meta) });
}

// The 2026-07-28 wire as a client with the same request() as a Session.
const statelessClient = (node) => ({
  tap: httpTap,
  async request(method, params = {}) {
    const reply = await send(node.mcpUrl, { headers: headersFor({ extra: routingHeaders(method, params) }), body: statelessBody(method, params) });
    return expectResult(reply, `${STATELESS_VERSION} ${method}`);
  },
});

// ---------------------------------------------------------------------------
// An SSE response read as it arrives. Every message is kept; waitFor looks
// through those not yet passed over, then waits for more; waitEnd waits for
// the server to end the stream.

class SseStream {
  constructor(label, controller, body) {
    this.label = label;
    this.controller = controller;
    this.messages = [];
    this.cursor = 0;
    this.waiters = new Set();
    this.ended = undefined;
    this.pump(body);
  }

  static async open(url, { method = 'POST', headers, body, label, timeoutMs = 10000 }) {
    const controller = new AbortController();
    onCleanup(() => controller.abort());
    const init = { method, headers, signal: controller.signal };
    if (body !== undefined) init.body = JSON.stringify(body);
    const request = requestLine(method, url, headers, init.body);
    const timer = setTimeout(() => controller.abort(new Error(`no response headers within ${timeoutMs} ms`)), timeoutMs);
    let res;
    try {
      res = await fetch(url, init);
    } catch (error) {
      const reason = controller.signal.reason?.message ?? `${error.cause?.code ?? error.name} ${error.cause?.message ?? error.message}`;
      httpTap.record(`${request}\n← ${reason}`);
      throw new StepFailure(`${label}: ${method} ${url} failed: ${reason}`);
    } finally {
      clearTimeout(timer);
    }
    const contentType = res.headers.get('content-type') ?? '';
    if (res.status !== 200 || !/text\/event-stream/.test(contentType)) {
      const text = await res.text().catch(() => '');
      controller.abort();
      httpTap.record(`${request}\n← ${res.status} ${contentType} ${short(text, 300)}`);
      throw new StepFailure(`${label}: HTTP ${res.status} ${contentType}, expected 200 text/event-stream; body ${short(text)}`);
    }
    httpTap.record(`${request}\n← ${res.status} (SSE stream open)`);
    return new SseStream(label, controller, res.body);
  }

  async pump(body) {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        const events = buffer.split(/\r?\n\r?\n/);
        buffer = events.pop();
        for (const event of events) {
          for (const message of sseEvents(`${event}\n\n`)) {
            httpTap.record(`← (${this.label}) ${short(message, 300)}`);
            this.messages.push(message);
          }
        }
        this.wake();
      }
      this.ended = 'the server closed the stream';
    } catch (error) {
      this.ended = this.controller.signal.aborted ? 'aborted' : `stream error: ${error.cause?.code ?? error.name} ${error.message}`;
    }
    httpTap.record(`← (${this.label}) ${this.ended}`);
    this.wake();
  }

  wake() {
    for (const waiter of this.waiters) waiter();
  }

  // The next message (after those already passed over) that `predicate`
  // accepts; earlier non-matching ones are passed over.
  waitFor(predicate, { timeoutMs = 10000, what }) {
    return this.waitUntil(
      () => {
        while (this.cursor < this.messages.length) {
          const message = this.messages[this.cursor++];
          if (predicate(message)) return { value: message };
        }
        if (this.ended) throw new StepFailure(`${this.label}: ${what}: ${this.ended} first; seen ${this.seen()}`);
        return undefined;
      },
      timeoutMs,
      what,
    );
  }

  // Resolves with how the stream ended.
  waitEnd({ timeoutMs, what = 'the end of the stream' }) {
    return this.waitUntil(() => (this.ended ? { value: this.ended } : undefined), timeoutMs, what);
  }

  waitUntil(look, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        let found;
        try {
          found = look();
        } catch (error) {
          return finish(() => reject(error));
        }
        if (found) finish(() => resolve(found.value));
      };
      const timer = setTimeout(() => finish(() => reject(new StepFailure(`${this.label}: ${what}: nothing within ${timeoutMs} ms; seen ${this.seen()}`))), timeoutMs);
      const finish = (settle) => {
        clearTimeout(timer);
        this.waiters.delete(attempt);
        settle();
      };
      this.waiters.add(attempt);
      attempt();
    });
  }

  seen() {
    return this.messages.length === 0 ? 'no messages' : this.messages.map((m) => short(m, 200)).join(' | ');
  }

  close() {
    this.controller.abort();
  }
}

// ---------------------------------------------------------------------------
// `cairn mcp stdio`: one JSON-RPC message a line each way.

class StdioServer {
  constructor({ cairn, args }) {
    this.stderr = new OutputRing('cairn mcp stdio stderr');
    this.tap = stdioTap;
    this.queue = [];
    this.waiters = [];
    this.child = spawn(cairn, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const pid = this.child.pid;
    onCleanup(() => killQuietly(pid));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    this.child.stdin.on('error', () => {}); // EPIPE once it is gone: reported via the exit instead
    this.child.stderr.on('data', (chunk) => {
      this.stderr.push(chunk);
      if (options.verbose) process.stderr.write(chunk);
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.tap.record(`← ${short(line, 300)}`);
      this.queue.push(line);
      this.flush();
    });
  }

  get pid() {
    return this.child.pid;
  }

  flush() {
    while (this.queue.length > 0 && this.waiters.length > 0) this.waiters.shift()(this.queue.shift());
  }

  write(message) {
    const text = JSON.stringify(message);
    this.tap.record(`→ ${short(text, 300)}`);
    this.child.stdin.write(`${text}\n`);
  }

  nextLine(timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new StepFailure(`no line on stdout within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiters.push(waiter);
      this.flush();
    });
  }

  // The next response (a message with an id), skipping notifications.
  // Every stdout line must be JSON: stdout carries the protocol only.
  async nextResponse(timeoutMs = 10000) {
    for (;;) {
      const message = parseLine(await this.nextLine(timeoutMs));
      if ('id' in message) return message;
    }
  }

  // Every line that arrives within `ms`, parsed.
  async linesFor(ms) {
    await sleep(ms);
    return this.queue.splice(0).map(parseLine);
  }

  async call(message) {
    this.write(message);
    const response = await this.nextResponse();
    check(response.id === message.id, `answer for id ${JSON.stringify(response.id)}, expected ${message.id}: ${short(response)}`);
    return response;
  }

  async request(method, params) {
    const response = await this.call(rpc(method, params));
    check('result' in response, `${method}: expected a result line, got ${short(response)}`);
    return response.result;
  }
}

function parseLine(line) {
  try {
    return JSON.parse(line);
  } catch {
    throw new StepFailure(`stdout line is not JSON: ${short(line)}`);
  }
}

// ---------------------------------------------------------------------------
// Tool calls as actors: completion/complete lists their percent-encoded ids,
// resources/read of cairn://actors/{id} shows their state.

async function slowComputeActors(client) {
  const result = await client.request('completion/complete', { ref: { type: 'ref/resource', uri: STATE_TEMPLATE }, argument: { name: 'id', value: SLOW_PREFIX } });
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
  const result = await client.request('resources/read', { uri });
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
    const result = await client.request('tools/list', cursor === undefined ? {} : { cursor });
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
  session = await Session.open(node);
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
  const call = statelessBody('tools/call', params, { progressToken: 'p-1' });
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
  const error = expectError(reply.message, INVALID_PARAMS, 'tools/list {cursor:123}');
  noteForgedCursor((await session.post(rpc('tools/list', { cursor: 'not-a-cursor' }))).message, `${SESSION_VERSION} session`);
  return JSON.stringify(error.message);
});

// ===== D) stdio =============================================================
section();
await steps.run(`D) stdio: initialize (${SESSION_VERSION}) and notifications/initialized`, async () => {
  const args = ['mcp', 'stdio', '--data', path.join(workspace.dir, 'stdio'), '--profile', 'conformance'];
  let extra = 'no --config in this cairn: one page of tools';
  if (features.stdioConfig) {
    const tools = Array.from({ length: EXTRA_TOOLS }, (_, i) => ({ ...wordCountTool(), name: `word_count_${String(i).padStart(2, '0')}` }));
    const configPath = path.join(workspace.dir, 'paging.json');
    writeFileSync(configPath, `${JSON.stringify({ mcp_tools: tools }, null, 2)}\n`);
    args.push('--config', configPath);
    extra = `--config with ${EXTRA_TOOLS} extra exec tools`;
  }
  stdioServer = new StdioServer({ cairn: options.cairn, args });
  const init = await stdioServer.request('initialize', { protocolVersion: SESSION_VERSION, capabilities: {}, clientInfo: { name: 'cairn-cancel', version: '1.0.0' } });
  check(init.protocolVersion === SESSION_VERSION, `initialize negotiated ${JSON.stringify(init.protocolVersion)}`);
  stdioServer.write({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return `pid ${stdioServer.pid}, ${extra}`;
});

await steps.run('D) stdio: tools/list through every nextCursor: no duplicates, the same twice; {cursor:123} is -32602', async () => {
  const expected = ['slow_compute', ...(features.stdioConfig ? ['word_count_00', `word_count_${EXTRA_TOOLS - 1}`] : [])];
  const { names, pages } = await checkPagination(stdioServer, 'stdio', expected);
  if (features.stdioConfig) check(pages.length >= 2, `${names.length} tools came on one page (${pages.join('+')}); with a page size of 50 expected more than one`);
  const error = expectError(await stdioServer.call(rpc('tools/list', { cursor: 123 })), INVALID_PARAMS, 'stdio tools/list {cursor:123}');
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
    const call = statelessBody('tools/call', params, { progressToken: 'p-2' });
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
