// SPDX-License-Identifier: Apache-2.0
// Raw MCP wire helpers for the SDK-free scripts (security, resources,
// cancel): JSON-RPC over fetch and over `cairn mcp stdio` lines, 2025-11-25
// sessions, 2026-07-28 stateless requests, long-lived SSE streams, and the
// checks on their answers. No SDK on purpose: these scripts check exact HTTP
// statuses and error codes, which an SDK would hide or reinterpret.
//
// State is per process (each script is one): the traffic taps, the JSON-RPC
// id counter and the clientInfo name, set with configureWire().

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

import { OutputRing, StepFailure, check, killQuietly, onCleanup } from './harness.mjs';

export const SESSION_VERSION = '2025-11-25';
export const STATELESS_VERSION = '2026-07-28';
export const BOTH = 'application/json, text/event-stream';

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const HEADER_MISMATCH = -32020;
export const UNSUPPORTED_VERSION = -32022;

// The clientInfo name each script sends, and where its ids start (cancel.mjs
// keeps ids below 100 for the ones its checks name).
const settings = { clientName: 'cairn-mcp-test' };
let nextId = 1;

export function configureWire({ clientName, firstId } = {}) {
  if (clientName !== undefined) settings.clientName = clientName;
  if (firstId !== undefined) nextId = firstId;
}

// ---------------------------------------------------------------------------
// Traffic log: the last exchanges, shown when a step fails.

export class TrafficTap {
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

export function short(text, max = 400) {
  const s = typeof text === 'string' ? text : JSON.stringify(text);
  if (s === undefined) return String(s);
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} chars)`;
}

// One tap per channel; send() and SseStream record into httpTap, StdioServer
// into stdioTap. Scripts hand them to Steps for the failure report.
export const httpTap = new TrafficTap('raw HTTP');
export const stdioTap = new TrafficTap('cairn mcp stdio');

// A failure report shows the traffic of its own section only.
export function section() {
  httpTap.entries = [];
  stdioTap.entries = [];
}

// ---------------------------------------------------------------------------
// JSON-RPC messages.

export const rpc = (method, params, id = nextId++) => ({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });

export const initializeParams = (protocolVersion = SESSION_VERSION) => ({
  protocolVersion,
  capabilities: {},
  clientInfo: { name: settings.clientName, version: '1.0.0' },
});

export const initializeRequest = (protocolVersion = SESSION_VERSION) => rpc('initialize', initializeParams(protocolVersion));

export const isResponse = (message) => 'result' in message || 'error' in message;

// ---------------------------------------------------------------------------
// Raw HTTP with fetch. A reply is {status, headers, text, message}, where
// message is the JSON-RPC response: the JSON body, or the last response
// event of an SSE body.

export function sseEvents(text) {
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

export function parseMessage(contentType, text) {
  if (/text\/event-stream/.test(contentType ?? '')) return sseEvents(text).findLast(isResponse);
  if (/json/.test(contentType ?? '') && text.trim()) return JSON.parse(text);
  return undefined;
}

// The headers worth showing in the traffic log: all but Content-Type and Accept.
export function headerSummary(headers) {
  return Object.entries(headers)
    .filter(([k]) => !/^(content-type|accept)$/i.test(k))
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
}

export function requestLine(method, url, headers, body) {
  return `→ ${method} ${new URL(url).pathname} [${headerSummary(headers)}] ${short(body ?? '', 300)}`;
}

export async function send(url, { method = 'POST', headers = {}, body, timeoutMs = 15000 } = {}) {
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

// Request headers; `extra` may override Content-Type and Accept too.
export function headersFor({ token, accept = BOTH, contentType = 'application/json', extra = {} } = {}) {
  const headers = { 'Content-Type': contentType, Accept: accept, ...extra };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  return headers;
}

// ---------------------------------------------------------------------------
// Checks on replies.

export function expectStatus(reply, status, what) {
  check(reply.status === status, `${what}: HTTP ${reply.status}, expected ${status}; body ${short(reply.text)}`);
}

export function expectResult(reply, what) {
  expectStatus(reply, 200, what);
  check(reply.message && 'result' in reply.message, `${what}: expected a JSON-RPC result, got ${short(reply.text)}`);
  return reply.message.result;
}

// A JSON-RPC error with `code`. The scripts differ in how strict they are, so
// each part is an option:
//   status    the HTTP status, or a list of allowed ones (unchecked if absent)
//   id        the id the error must carry (null when the request's id could
//             not be read; unchecked if absent)
//   message   a RegExp the error message must match
//   noResult  first fail with "got a result" when a result came instead
//   showData  name error.data when the code is wrong
export function expectError(reply, { status, code, id, message, noResult = false, showData = false }, what) {
  if (Array.isArray(status)) {
    check(status.includes(reply.status), `${what}: HTTP ${reply.status}, expected ${status.join(' or ')}; body ${short(reply.text)}`);
  } else if (status !== undefined) {
    expectStatus(reply, status, what);
  }
  if (noResult) check(reply.message && !('result' in reply.message), `${what}: expected a JSON-RPC error, got a result: ${short(reply.text)}`);
  const error = reply.message?.error;
  check(error, `${what}: expected a JSON-RPC error, got ${short(reply.text)}`);
  const data = showData ? `, data ${JSON.stringify(error.data)}` : '';
  check(error.code === code, `${what}: JSON-RPC error code ${error.code}, expected ${code}; message ${JSON.stringify(error.message)}${data}`);
  if (id !== undefined) check(reply.message.id === id, `${what}: error id ${JSON.stringify(reply.message.id)}, expected ${JSON.stringify(id)}`);
  if (message) check(message.test(error.message), `${what}: message ${JSON.stringify(error.message)} does not match ${message}`);
  return error;
}

// The same checks on a bare JSON-RPC message (a stdio line, an SSE event).
export function expectMessageError(message, code, what, options = {}) {
  return expectError({ message, text: message }, { code, noResult: true, ...options }, what);
}

// ---------------------------------------------------------------------------
// 2025-11-25 sessions: initialize, then every request carries the session id.
// request() gives the raw reply; result() checks for and returns the result.

export class Session {
  constructor(node, id, token) {
    this.node = node;
    this.id = id;
    this.token = token;
    this.tap = httpTap;
  }

  // strictVersion: the server must answer the version asked for.
  // checkResult: further checks on the initialize result.
  static async open(node, { token, protocolVersion = SESSION_VERSION, what = 'initialize', strictVersion = false, checkResult } = {}) {
    const reply = await send(node.mcpUrl, { headers: headersFor({ token }), body: initializeRequest(protocolVersion) });
    const result = expectResult(reply, what);
    if (strictVersion) check(result.protocolVersion === protocolVersion, `${what} negotiated ${JSON.stringify(result.protocolVersion)}, expected ${protocolVersion}`);
    checkResult?.(result);
    const id = reply.headers.get('mcp-session-id');
    check(id, `${what}: no Mcp-Session-Id header in the answer (headers ${JSON.stringify([...reply.headers])})`);
    const session = new Session(node, id, token);
    session.protocolVersion = result.protocolVersion;
    const ack = await session.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    check(ack.status === 202, `notifications/initialized: HTTP ${ack.status}, expected 202; body ${short(ack.text)}`);
    return session;
  }

  // Any part can be overridden to break it; version null leaves out
  // MCP-Protocol-Version.
  headers({ token = this.token, version = this.protocolVersion, accept, extra = {} } = {}) {
    const headers = headersFor({ token, accept, extra: { 'Mcp-Session-Id': this.id, ...extra } });
    if (version !== null) headers['MCP-Protocol-Version'] = version;
    return headers;
  }

  request(method, params, headerOptions = {}) {
    return this.post(rpc(method, params), headerOptions);
  }

  post(body, headerOptions = {}) {
    return send(this.node.mcpUrl, { headers: this.headers(headerOptions), body });
  }

  async result(method, params) {
    return expectResult(await this.request(method, params), `${method} in the session`);
  }
}

// ---------------------------------------------------------------------------
// 2026-07-28 stateless requests: version and capabilities in _meta, routing
// headers mirrored from the body. Any part can be overridden to break it
// (null leaves a header or _meta out).

export const CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';
export const VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';

// `extra` goes into _meta as well, e.g. a progressToken.
export function statelessMeta({ version = STATELESS_VERSION, capabilities = {}, ...extra } = {}) {
  return { [VERSION_KEY]: version, [CAPABILITIES_KEY]: capabilities, ...extra };
}

function routingName(method, params) {
  if (method === 'tools/call' || method === 'prompts/get') return params?.name;
  if (method === 'resources/read') return params?.uri;
  if (method.startsWith('tasks/')) return params?.taskId;
  return undefined;
}

export function routingHeaders(method, params, { headerVersion = STATELESS_VERSION, mcpMethod = method, mcpName } = {}) {
  const headers = {};
  if (headerVersion !== null) headers['MCP-Protocol-Version'] = headerVersion;
  if (mcpMethod !== null) headers['Mcp-Method'] = mcpMethod;
  const name = mcpName === undefined ? routingName(method, params) : mcpName;
  if (name !== undefined && name !== null) headers['Mcp-Name'] = name;
  return headers;
}

export function statelessBody(method, params = {}, { meta = statelessMeta(), id } = {}) {
  return rpc(method, meta === null ? params : { ...params, _meta: meta }, id ?? nextId++);
}

export function stateless(node, method, params = {}, { token, headerVersion, meta, mcpMethod, mcpName, id } = {}) {
  const body = statelessBody(method, params, { meta, id });
  const headers = headersFor({ token, extra: routingHeaders(method, params, { headerVersion, mcpMethod, mcpName }) });
  return send(node.mcpUrl, { headers, body });
}

// ---------------------------------------------------------------------------
// An SSE response read as it arrives (a POST answered as a stream,
// subscriptions/listen, GET /mcp). Every message is kept; waitFor looks
// through those not yet passed over, then waits for more; waitEnd waits for
// the server to end the stream.

export class SseStream {
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
// `cairn mcp stdio`: one JSON-RPC message a line each way. request() gives
// the response line, result() checks for and returns its result.

export function parseLine(line) {
  try {
    return JSON.parse(line);
  } catch {
    throw new StepFailure(`stdout line is not JSON: ${short(line)}`);
  }
}

export class StdioServer {
  constructor({ cairn, args, verbose = false }) {
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
      if (verbose) process.stderr.write(chunk);
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

  // A raw line, which need not be JSON.
  writeLine(text) {
    this.tap.record(`→ ${short(text, 300)}`);
    this.child.stdin.write(`${text}\n`);
  }

  write(message) {
    this.writeLine(JSON.stringify(message));
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

  request(method, params) {
    return this.call(rpc(method, params));
  }

  async result(method, params) {
    const response = await this.request(method, params);
    check('result' in response, `${method}: expected a result line, got ${short(response)}`);
    return response.result;
  }
}
