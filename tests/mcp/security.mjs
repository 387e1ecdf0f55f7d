#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Security and robustness of cairn's MCP server, from the user's side: raw
// HTTP (fetch, node:http) and raw stdio lines, no SDK, so the exact HTTP
// statuses and JSON-RPC error codes are what is checked.
//   A) bearer tokens scope the tools a client may list and call, on
//      2025-11-25 sessions and on the 2026-07-28 stateless wire; a missing or
//      wrong token is 401, another token's session is 403
//   B) DNS rebinding: foreign Origin or Host is 403, loopback ones are served
//   C) malformed requests each get their own answer (400/404/406/413/415,
//      -32700/-32600/-32601/-32602/-32020/-32022), and the node keeps serving
//   D) stdio: bad lines get error lines, the session still works afterwards,
//      closing stdin stops the server with exit code 0
//   E) tasks are bound to the token that created them (2025-11-25 tasks,
//      Security Considerations: another token must not list, read or cancel them)
//
// Usage: node security.mjs --cairn BIN [--verbose]
// Exit: 0 all passed, 1 a step failed.

import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { CairnHttpNode, StepFailure, Steps, check, makeWorkspace, parseOptions, pollUntil, stdioServerArgs, toolText } from './lib/harness.mjs';
import {
  HEADER_MISMATCH,
  INVALID_PARAMS,
  INVALID_REQUEST,
  METHOD_NOT_FOUND,
  PARSE_ERROR,
  SESSION_VERSION,
  STATELESS_VERSION,
  Session,
  StdioServer,
  UNSUPPORTED_VERSION,
  configureWire,
  expectError,
  expectResult,
  expectStatus,
  headerSummary,
  headersFor,
  httpTap,
  initializeRequest,
  rpc,
  section,
  send,
  short,
  stateless,
  statelessMeta,
  stdioTap,
} from './lib/wire.mjs';

const USAGE = 'usage: security.mjs --cairn BIN [--verbose]';
const ONE_MIB = 1 << 20;

const options = parseOptions(process.argv.slice(2), USAGE);
const workspace = makeWorkspace('cairn-security');
configureWire({ clientName: 'cairn-security' });

// ---------------------------------------------------------------------------
// Nodes: the harness's node (conformance profile), with --mcp-token flags.

const nodes = [];
let stdioServer;
const steps = new Steps({
  wireTaps: () => [httpTap, stdioTap],
  logs: () => [...nodes.map((n) => n.output), stdioServer?.stderr].filter(Boolean),
});

async function startNode(name, mcpTokens = []) {
  const node = new CairnHttpNode({ cairn: options.cairn, dataDir: path.join(workspace.dir, name), mcpTokens, verbose: options.verbose });
  nodes.push(node);
  await node.start();
  return node;
}

const toolNames = (result) => (result?.tools ?? []).map((tool) => tool.name).sort();
const sameSet = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

// ---------------------------------------------------------------------------
// node:http, where fetch cannot go: a forged Host header, and bodies past
// the size limit (the server may answer early and close the connection).

function rawRequest({ port, headers, body = '', holdBodyMs = 0, chunked = false, timeoutMs = 15000 }) {
  return new Promise((resolve) => {
    const outcome = { status: undefined, headers: undefined, text: '', errors: [] };
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      httpTap.record(`→ POST /mcp (node:http) [${headerSummary(headers)}] ${body.length} bytes\n← ${outcome.status ?? 'no answer'} ${short(outcome.text, 300)} ${outcome.errors.join(', ')}`);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      outcome.errors.push(`no answer within ${timeoutMs} ms`);
      finish();
    }, timeoutMs);
    const allHeaders = { ...headers };
    if (!chunked) allHeaders['Content-Length'] = String(Buffer.byteLength(body));
    const req = http.request({ host: '127.0.0.1', port, path: '/mcp', method: 'POST', headers: allHeaders, agent: false });
    req.on('response', (res) => {
      outcome.status = res.statusCode;
      outcome.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        outcome.text += chunk;
      });
      res.on('end', finish);
      res.on('error', (error) => {
        outcome.errors.push(`response ${error.code ?? error.message}`);
        finish();
      });
    });
    req.on('error', (error) => {
      outcome.errors.push(error.code ?? error.message);
      // A response may still be on its way; give it a moment.
      setTimeout(finish, 200);
    });
    req.flushHeaders();
    const data = Buffer.from(body);
    const chunkSize = 64 * 1024;
    let offset = 0;
    const pump = () => {
      while (offset < data.length && outcome.status === undefined && !settled) {
        const chunk = data.subarray(offset, offset + chunkSize);
        offset += chunk.length;
        if (!req.write(chunk)) return req.once('drain', pump);
      }
      if (!settled) req.end();
    };
    if (holdBodyMs > 0) setTimeout(pump, holdBodyMs);
    else pump();
  });
}

function rawJson(outcome) {
  try {
    return JSON.parse(outcome.text);
  } catch {
    return undefined;
  }
}

// `cairn mcp stdio` answers a bad line with an error line.
function expectLineError(response, code, what) {
  check(response.error, `${what}: expected a JSON-RPC error line, got ${short(response)}`);
  check(response.error.code === code, `${what}: error code ${response.error.code}, expected ${code}; message ${JSON.stringify(response.error.message)}`);
  return response.error;
}

// ---------------------------------------------------------------------------

console.log(`security: raw HTTP and stdio against ${options.cairn}`);

// ===== A) permission scopes =================================================
section();
// owner/intruder are for E); they do not change what alpha and beta see.
const TOKENS = ['alpha:greet,test_simple_*', 'beta:echo', 'owner:slow_compute', 'intruder:slow_compute'];
let scoped;
await steps.run(`A) start a node with --mcp-token ${TOKENS.join(' --mcp-token ')}`, async () => {
  scoped = await startNode('scoped', TOKENS);
  return scoped.baseUrl;
});

let alpha;
let beta;
await steps.run('A) alpha: 2025-11-25 session (initialize, Mcp-Session-Id, notifications/initialized)', async () => {
  alpha = await Session.open(scoped, { token: 'alpha' });
  check(alpha.protocolVersion === SESSION_VERSION, `negotiated ${alpha.protocolVersion}`);
  return `session ${alpha.id.slice(0, 8)}…`;
});

await steps.run('A) alpha tools/list is exactly {greet, test_simple_text}', async () => {
  const names = toolNames(expectResult(await alpha.request('tools/list', {}), 'tools/list'));
  check(sameSet(names, ['greet', 'test_simple_text']), `alpha sees ${JSON.stringify(names)}`);
  return JSON.stringify(names);
});

await steps.run('A) alpha tools/call echo (out of scope) is -32602 unknown tool', async () => {
  const error = expectError(await alpha.request('tools/call', { name: 'echo', arguments: { text: 'x' } }), { status: 200, code: INVALID_PARAMS }, 'tools/call echo');
  check(/unknown tool/i.test(error.message), `message does not say unknown tool: ${JSON.stringify(error.message)}`);
  return JSON.stringify(error.message);
});

await steps.run('A) alpha tools/call greet {name:"X"} answers "Hello, X!"', async () => {
  const result = expectResult(await alpha.request('tools/call', { name: 'greet', arguments: { name: 'X' } }), 'tools/call greet');
  check(toolText(result) === 'Hello, X!', `greet answered ${short(result)}`);
  return JSON.stringify(toolText(result));
});

await steps.run('A) beta session: tools/list is exactly {echo}; echo works, greet is -32602', async () => {
  beta = await Session.open(scoped, { token: 'beta' });
  const names = toolNames(expectResult(await beta.request('tools/list', {}), 'tools/list'));
  check(sameSet(names, ['echo']), `beta sees ${JSON.stringify(names)}`);
  const echoed = expectResult(await beta.request('tools/call', { name: 'echo', arguments: { text: 'scoped' } }), 'tools/call echo');
  check(toolText(echoed) === 'scoped', `echo answered ${short(echoed)}`);
  const error = expectError(await beta.request('tools/call', { name: 'greet', arguments: { name: 'X' } }), { status: 200, code: INVALID_PARAMS }, 'tools/call greet');
  check(/unknown tool/i.test(error.message), `message does not say unknown tool: ${JSON.stringify(error.message)}`);
  return `${JSON.stringify(names)}, echo ${JSON.stringify(toolText(echoed))}`;
});

await steps.run('A) no Authorization: initialize is 401 with WWW-Authenticate: Bearer', async () => {
  const reply = await send(scoped.mcpUrl, { headers: headersFor(), body: initializeRequest() });
  expectStatus(reply, 401, 'initialize without a token');
  const challenge = reply.headers.get('www-authenticate');
  check(/^Bearer\b/i.test(challenge ?? ''), `WWW-Authenticate is ${JSON.stringify(challenge)}, expected Bearer`);
  check(!reply.headers.get('mcp-session-id'), 'a session was created without a token');
  return `WWW-Authenticate: ${challenge}`;
});

await steps.run('A) wrong token: 401 for initialize and for a request in alpha\'s session', async () => {
  const init = await send(scoped.mcpUrl, { headers: headersFor({ token: 'gamma' }), body: initializeRequest() });
  expectStatus(init, 401, 'initialize with token gamma');
  check(/^Bearer\b/i.test(init.headers.get('www-authenticate') ?? ''), `WWW-Authenticate is ${JSON.stringify(init.headers.get('www-authenticate'))}`);
  const inSession = await alpha.request('tools/list', {}, { token: 'gamma' });
  expectStatus(inSession, 401, 'tools/list in alpha\'s session with token gamma');
  const notBearer = await send(scoped.mcpUrl, { headers: headersFor({ extra: { Authorization: 'Basic YWxwaGE6' } }), body: initializeRequest() });
  expectStatus(notBearer, 401, 'initialize with Basic credentials');
});

await steps.run('A) alpha\'s session used with beta\'s token is 403', async () => {
  const reply = await alpha.request('tools/list', {}, { token: 'beta' });
  expectStatus(reply, 403, 'tools/list in alpha\'s session with token beta');
  const call = await alpha.request('tools/call', { name: 'echo', arguments: { text: 'x' } }, { token: 'beta' });
  expectStatus(call, 403, 'tools/call echo in alpha\'s session with token beta');
  return short(reply.message?.error?.message ?? reply.text, 120);
});

await steps.run(`A) ${STATELESS_VERSION} wire: tools/list is scoped per token`, async () => {
  const alphaNames = toolNames(expectResult(await stateless(scoped, 'tools/list', {}, { token: 'alpha' }), 'alpha tools/list'));
  check(sameSet(alphaNames, ['greet', 'test_simple_text']), `alpha sees ${JSON.stringify(alphaNames)}`);
  const betaNames = toolNames(expectResult(await stateless(scoped, 'tools/list', {}, { token: 'beta' }), 'beta tools/list'));
  check(sameSet(betaNames, ['echo']), `beta sees ${JSON.stringify(betaNames)}`);
  return `alpha ${JSON.stringify(alphaNames)}, beta ${JSON.stringify(betaNames)}`;
});

await steps.run(`A) ${STATELESS_VERSION} wire: tools/call outside the scope is an error, inside works`, async () => {
  const denied = await stateless(scoped, 'tools/call', { name: 'echo', arguments: { text: 'x' } }, { token: 'alpha' });
  const error = expectError(denied, { status: 400, code: INVALID_PARAMS }, 'alpha tools/call echo');
  check(/unknown tool/i.test(error.message), `message does not say unknown tool: ${JSON.stringify(error.message)}`);
  expectError(await stateless(scoped, 'tools/call', { name: 'greet', arguments: { name: 'X' } }, { token: 'beta' }), { status: 400, code: INVALID_PARAMS }, 'beta tools/call greet');
  const greeted = expectResult(await stateless(scoped, 'tools/call', { name: 'greet', arguments: { name: 'X' } }, { token: 'alpha' }), 'alpha tools/call greet');
  check(toolText(greeted) === 'Hello, X!', `greet answered ${short(greeted)}`);
  const echoed = expectResult(await stateless(scoped, 'tools/call', { name: 'echo', arguments: { text: 'scoped' } }, { token: 'beta' }), 'beta tools/call echo');
  check(toolText(echoed) === 'scoped', `echo answered ${short(echoed)}`);
  return JSON.stringify(error.message);
});

await steps.run(`A) ${STATELESS_VERSION} wire: no token and a wrong token are 401`, async () => {
  const none = await stateless(scoped, 'tools/list', {});
  expectStatus(none, 401, 'tools/list without a token');
  check(/^Bearer\b/i.test(none.headers.get('www-authenticate') ?? ''), `WWW-Authenticate is ${JSON.stringify(none.headers.get('www-authenticate'))}`);
  expectStatus(await stateless(scoped, 'tools/list', {}, { token: 'gamma' }), 401, 'tools/list with token gamma');
});

// ===== B) Origin and Host (DNS rebinding) ===================================
section();
let open;
await steps.run('B) start a node without tokens', async () => {
  open = await startNode('open');
  return open.baseUrl;
});

await steps.run('B) initialize with Origin: http://evil.example.com is 403', async () => {
  const reply = await send(open.mcpUrl, { headers: headersFor({ extra: { Origin: 'http://evil.example.com' } }), body: initializeRequest() });
  expectStatus(reply, 403, 'initialize from a foreign Origin');
  check(!reply.headers.get('mcp-session-id'), 'a session was created for a foreign Origin');
  return short(reply.message?.error?.message ?? reply.text, 120);
});

await steps.run('B) initialize with Host: evil.example.com is 403', async () => {
  const outcome = await rawRequest({ port: open.port, headers: headersFor({ extra: { Host: 'evil.example.com' } }), body: JSON.stringify(initializeRequest()) });
  check(outcome.status === 403, `HTTP ${outcome.status ?? 'none'} ${outcome.errors.join(', ')}, expected 403; body ${short(outcome.text)}`);
  check(!outcome.headers['mcp-session-id'], 'a session was created for a foreign Host');
  return short(rawJson(outcome)?.error?.message ?? outcome.text, 120);
});

await steps.run('B) initialize with Origin: http://localhost:PORT is 200', async () => {
  const reply = await send(open.mcpUrl, { headers: headersFor({ extra: { Origin: `http://localhost:${open.port}` } }), body: initializeRequest() });
  expectResult(reply, 'initialize from the loopback Origin');
  check(reply.headers.get('mcp-session-id'), 'no Mcp-Session-Id');
  return `Origin http://localhost:${open.port}`;
});

await steps.run('B) initialize without Origin is 200', async () => {
  const reply = await send(open.mcpUrl, { headers: headersFor(), body: initializeRequest() });
  expectResult(reply, 'initialize without Origin');
  check(reply.headers.get('mcp-session-id'), 'no Mcp-Session-Id');
});

// ===== C) malformed input ===================================================
section();
let session;
await steps.run('C) open a 2025-11-25 session on the node without tokens', async () => {
  session = await Session.open(open);
  return `session ${session.id.slice(0, 8)}…`;
});

await steps.run('C) invalid JSON body is 400, -32700, id null', async () => {
  const error = expectError(await session.post('{"jsonrpc":"2.0","id":1,"method":'), { status: 400, code: PARSE_ERROR, id: null }, 'invalid JSON');
  return JSON.stringify(error.message);
});

for (const [label, body] of [
  ['[] (empty batch)', '[]'],
  ['a JSON-RPC batch of two pings', JSON.stringify([rpc('ping'), rpc('ping')])],
]) {
  await steps.run(`C) ${label} is 400, -32600`, async () => {
    const error = expectError(await session.post(body), { status: 400, code: INVALID_REQUEST }, label);
    return JSON.stringify(error.message);
  });
}

for (const [label, body] of [
  ['missing jsonrpc', { id: 11, method: 'ping' }],
  ['jsonrpc "1.0"', { jsonrpc: '1.0', id: 12, method: 'ping' }],
  ['id as an object', { jsonrpc: '2.0', id: { a: 1 }, method: 'ping' }],
  ['params as an array', { jsonrpc: '2.0', id: 13, method: 'tools/list', params: [1] }],
  ['method as a number', { jsonrpc: '2.0', id: 14, method: 5 }],
]) {
  await steps.run(`C) ${label} is 400, -32600`, async () => {
    const error = expectError(await session.post(body), { status: 400, code: INVALID_REQUEST }, label);
    return JSON.stringify(error.message);
  });
}

await steps.run('C) unknown method in a session is -32601', async () => {
  const request = rpc('no/such/method', {});
  const error = expectError(await session.post(request), { status: 200, code: METHOD_NOT_FOUND, id: request.id }, 'no/such/method');
  return JSON.stringify(error.message);
});

await steps.run('C) tools/list without Mcp-Session-Id (no MCP-Protocol-Version) is 400', async () => {
  const reply = await send(open.mcpUrl, { headers: headersFor(), body: rpc('tools/list', {}) });
  expectStatus(reply, 400, 'tools/list without a session');
  return short(reply.message?.error?.message ?? reply.text, 120);
});

await steps.run('C) unknown Mcp-Session-Id is 404', async () => {
  const reply = await send(open.mcpUrl, { headers: headersFor({ extra: { 'Mcp-Session-Id': '0123456789abcdef0123456789abcdef', 'MCP-Protocol-Version': SESSION_VERSION } }), body: rpc('tools/list', {}) });
  expectStatus(reply, 404, 'tools/list with an unknown session');
});

// Over 1 MiB. Knowing Content-Length, the server may answer right after the
// headers and close, so a client still writing can see EPIPE instead.
const bigBody = JSON.stringify(rpc('tools/call', { name: 'echo', arguments: { text: 'x'.repeat(ONE_MIB) } }));
await steps.run('C) body over 1 MiB (Content-Length, body held back) is 413', async () => {
  const outcome = await rawRequest({ port: open.port, headers: session.headers(), body: bigBody, holdBodyMs: 1000 });
  check(outcome.status === 413, `HTTP ${outcome.status ?? 'none'} ${outcome.errors.join(', ')}, expected 413; body ${short(outcome.text)}`);
  return `${bigBody.length} bytes: ${outcome.status}${outcome.headers?.connection ? `, Connection: ${outcome.headers.connection}` : ''}`;
});

await steps.run('C) body of 4 MiB sent chunked is 413', async () => {
  const body = JSON.stringify(rpc('tools/call', { name: 'echo', arguments: { text: 'x'.repeat(4 * ONE_MIB) } }));
  const outcome = await rawRequest({ port: open.port, headers: session.headers(), body, chunked: true });
  check(outcome.status === 413, `HTTP ${outcome.status ?? 'none'} ${outcome.errors.join(', ')}, expected 413; body ${short(outcome.text)}`);
  return `${body.length} bytes: ${outcome.status}`;
});

await steps.run('C) body of 2 MiB in one fetch: 413, or the connection closed early', async () => {
  const body = JSON.stringify(rpc('tools/call', { name: 'echo', arguments: { text: 'x'.repeat(2 * ONE_MIB) } }));
  try {
    const res = await fetch(open.mcpUrl, { method: 'POST', headers: session.headers(), body, signal: AbortSignal.timeout(15000) });
    await res.text();
    check(res.status === 413, `HTTP ${res.status}, expected 413`);
    return `${body.length} bytes: 413`;
  } catch (error) {
    if (error instanceof StepFailure) throw error;
    const code = error.cause?.code ?? error.name;
    check(['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET'].includes(code), `fetch failed with ${code}: ${error.cause?.message ?? error.message}`);
    return `${body.length} bytes: connection closed (${code}) before the 413 could be read`;
  }
});

await steps.run('C) Content-Type: text/plain is 415', async () => {
  const reply = await send(open.mcpUrl, { headers: session.headers({ extra: { 'Content-Type': 'text/plain' } }), body: rpc('ping') });
  expectStatus(reply, 415, 'Content-Type text/plain');
});

await steps.run('C) Accept without text/event-stream is 406', async () => {
  const reply = await send(open.mcpUrl, { headers: session.headers({ extra: { Accept: 'application/json' } }), body: rpc('ping') });
  expectStatus(reply, 406, 'Accept: application/json');
});

await steps.run('C) initialize with protocolVersion "1999-01-01" answers a supported one (2025-11-25)', async () => {
  const reply = await send(open.mcpUrl, { headers: headersFor(), body: initializeRequest('1999-01-01') });
  const result = expectResult(reply, 'initialize 1999-01-01');
  check(result.protocolVersion === SESSION_VERSION, `server answered protocolVersion ${JSON.stringify(result.protocolVersion)}`);
  check(reply.headers.get('mcp-session-id'), 'no Mcp-Session-Id');
  return `protocolVersion ${result.protocolVersion}`;
});

await steps.run('C) in a session, MCP-Protocol-Version: 1999-01-01 is 400', async () => {
  const reply = await session.request('ping', undefined, { version: '1999-01-01' });
  expectStatus(reply, 400, 'ping with MCP-Protocol-Version 1999-01-01');
  return short(reply.message?.error?.message ?? reply.text, 120);
});

await steps.run(`C) ${STATELESS_VERSION} wire: version v999 (header and _meta) is 400, -32022 with data.supported`, async () => {
  const reply = await stateless(open, 'tools/list', {}, { headerVersion: 'v999', meta: statelessMeta({ version: 'v999' }) });
  const error = expectError(reply, { status: 400, code: UNSUPPORTED_VERSION }, 'v999');
  check(Array.isArray(error.data?.supported), `error.data.supported missing: ${short(error)}`);
  check(error.data.supported.includes(STATELESS_VERSION), `supported ${JSON.stringify(error.data.supported)} lacks ${STATELESS_VERSION}`);
  return `supported ${JSON.stringify(error.data.supported)}`;
});

await steps.run(`C) ${STATELESS_VERSION} wire: header/_meta version mismatch is 400, -32020`, async () => {
  const reply = await stateless(open, 'tools/list', {}, { meta: statelessMeta({ version: '2026-07-29' }) });
  const error = expectError(reply, { status: 400, code: HEADER_MISMATCH }, 'header 2026-07-28, _meta 2026-07-29');
  return JSON.stringify(error.message);
});

await steps.run(`C) ${STATELESS_VERSION} wire: missing _meta is 400, -32602`, async () => {
  const reply = await stateless(open, 'tools/list', {}, { meta: null });
  const error = expectError(reply, { status: 400, code: INVALID_PARAMS }, 'no _meta');
  return JSON.stringify(error.message);
});

await steps.run(`C) ${STATELESS_VERSION} wire: Mcp-Method mismatch is 400, -32020`, async () => {
  const reply = await stateless(open, 'tools/list', {}, { mcpMethod: 'prompts/list' });
  const error = expectError(reply, { status: 400, code: HEADER_MISMATCH }, 'Mcp-Method prompts/list for tools/list');
  return JSON.stringify(error.message);
});

await steps.run('C) greet {name:5} is -32602 naming $.name (session and stateless)', async () => {
  const inSession = expectError(await session.request('tools/call', { name: 'greet', arguments: { name: 5 } }), { status: 200, code: INVALID_PARAMS }, 'session greet {name:5}');
  check(/\$\.name\b/.test(inSession.message), `message does not name $.name: ${JSON.stringify(inSession.message)}`);
  const bare = expectError(await stateless(open, 'tools/call', { name: 'greet', arguments: { name: 5 } }), { status: 400, code: INVALID_PARAMS }, 'stateless greet {name:5}');
  check(/\$\.name\b/.test(bare.message), `message does not name $.name: ${JSON.stringify(bare.message)}`);
  return JSON.stringify(inSession.message);
});

await steps.run('C) 100 bad requests in a row, then a good one still works', async () => {
  const bad = [
    () => session.post('{not json', {}),
    () => session.post('[]'),
    () => session.post({ jsonrpc: '1.0', id: 1, method: 'ping' }),
    () => session.post({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: 'x' }),
    () => send(open.mcpUrl, { headers: headersFor({ extra: { 'Mcp-Session-Id': 'nope' } }), body: rpc('ping') }),
    () => send(open.mcpUrl, { headers: session.headers({ extra: { 'Content-Type': 'text/plain' } }), body: rpc('ping') }),
    () => send(open.mcpUrl, { headers: session.headers({ extra: { Accept: 'text/html' } }), body: rpc('ping') }),
    () => stateless(open, 'tools/list', {}, { mcpMethod: 'tools/call' }),
    () => stateless(open, 'tools/list', {}, { headerVersion: 'v999', meta: statelessMeta({ version: 'v999' }) }),
    () => send(open.mcpUrl, { headers: headersFor(), body: rpc('tools/list', {}) }),
  ];
  const started = Date.now();
  const statuses = new Map();
  for (let i = 0; i < 100; i++) {
    const reply = await bad[i % bad.length]();
    check(reply.status >= 400 && reply.status < 500, `bad request #${i + 1} got HTTP ${reply.status}: ${short(reply.text)}`);
    statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
  }
  const elapsed = Date.now() - started;
  const names = toolNames(expectResult(await session.request('tools/list', {}), 'tools/list after the bad requests'));
  check(names.includes('greet'), `greet missing from ${JSON.stringify(names)}`);
  return `${[...statuses].map(([s, n]) => `${n}×${s}`).join(', ')} in ${elapsed} ms; tools/list then lists ${names.length} tools`;
});

await steps.run('C) GET /mcp without a session is 400', async () => {
  const reply = await send(open.mcpUrl, { method: 'GET', headers: { Accept: 'text/event-stream' } });
  expectStatus(reply, 400, 'GET /mcp without Mcp-Session-Id');
});

await steps.run('C) the node still answers ping and tools/list after all of the above', async () => {
  expectResult(await session.request('ping'), 'ping');
  const names = toolNames(expectResult(await session.request('tools/list', {}), 'tools/list'));
  check(names.includes('greet'), `greet missing from ${JSON.stringify(names)}`);
  const bare = toolNames(expectResult(await stateless(open, 'tools/list', {}), `${STATELESS_VERSION} tools/list`));
  check(bare.includes('greet'), `greet missing from ${JSON.stringify(bare)}`);
  return `${names.length} tools in the session, ${bare.length} stateless`;
});

await steps.run('C) DELETE the session, then using it again is 404', async () => {
  const gone = await send(open.mcpUrl, { method: 'DELETE', headers: session.headers() });
  check(gone.status >= 200 && gone.status < 300, `DELETE answered HTTP ${gone.status}: ${short(gone.text)}`);
  expectStatus(await session.request('ping'), 404, 'ping in the deleted session');
  return `DELETE ${gone.status}, then 404`;
});

// ===== D) stdio =============================================================
section();
await steps.run('D) stdio: a non-JSON line is answered with a -32700 line', async () => {
  stdioServer = new StdioServer({ cairn: options.cairn, args: stdioServerArgs({ dataDir: path.join(workspace.dir, 'stdio') }), verbose: options.verbose });
  stdioServer.writeLine('this is not json');
  const error = expectLineError(await stdioServer.nextResponse(), PARSE_ERROR, 'non-JSON line');
  return `pid ${stdioServer.pid}: ${JSON.stringify(error.message)}`;
});

await steps.run('D) stdio: a batch is answered with -32600', async () => {
  stdioServer.writeLine(JSON.stringify([rpc('ping'), rpc('ping')]));
  const error = expectLineError(await stdioServer.nextResponse(), INVALID_REQUEST, 'batch');
  return JSON.stringify(error.message);
});

await steps.run('D) stdio: a 2 MiB line is answered with -32600 naming the size limit', async () => {
  const line = JSON.stringify(rpc('tools/call', { name: 'echo', arguments: { text: 'x'.repeat(2 * ONE_MIB) } }));
  stdioServer.writeLine(line);
  const error = expectLineError(await stdioServer.nextResponse(15000), INVALID_REQUEST, '2 MiB line');
  check(/1048576|1 ?MiB|\bsize\b|too large|larger/i.test(error.message), `message does not mention the size: ${JSON.stringify(error.message)}`);
  return `${line.length} bytes: ${JSON.stringify(error.message)}`;
});

await steps.run('D) stdio: initialize and tools/list still work', async () => {
  const init = await stdioServer.request('initialize', initializeRequest().params);
  check(init.result?.protocolVersion === SESSION_VERSION, `initialize answered ${short(init)}`);
  stdioServer.writeLine(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  const list = await stdioServer.request('tools/list', {});
  const names = toolNames(list.result);
  check(names.includes('greet'), `tools/list answered ${short(list)}`);
  return `${names.length} tools`;
});

await steps.run('D) stdio: closing stdin ends the process with exit code 0 within 10 s', async () => {
  const started = Date.now();
  stdioServer.child.stdin.end();
  const exit = await Promise.race([stdioServer.exited, sleep(10000).then(() => undefined)]);
  check(exit, `still running 10 s after stdin closed (pid ${stdioServer.pid})`);
  check(exit.code === 0, `exited with code ${exit.code}, signal ${exit.signal}`);
  return `exit 0 after ${Date.now() - started} ms`;
});

// ===== E) task isolation between tokens =====================================
section();
// 2025-11-25 tasks, Security Considerations: "When an authorization context
// is provided, receivers MUST bind tasks to said context", reject tasks/get,
// tasks/result and tasks/cancel from another context, and list only the
// requestor's own tasks. Both tokens may call slow_compute.
let owner;
let intruder;
let readable; // finished, its result there to be (not) read
let running; // still working, to be (not) cancelled
const terminal = (status) => ['completed', 'failed', 'cancelled'].includes(status);
await steps.run('E) token owner starts two slow_compute tasks (params.task) and lets the first finish', async () => {
  owner = await Session.open(scoped, { token: 'owner' });
  intruder = await Session.open(scoped, { token: 'intruder' });
  const start = async (seconds, label) => {
    const created = expectResult(
      await owner.request('tools/call', { name: 'slow_compute', arguments: { seconds, label }, task: { ttl: 60000 } }),
      `tools/call slow_compute ${label} as a task`,
    );
    check(typeof created.task?.taskId === 'string', `no task in ${short(created)}`);
    return created.task.taskId;
  };
  readable = await start(1, 'owner-secret-1');
  running = await start(3, 'owner-secret-2');
  const listed = expectResult(await owner.request('tasks/list', {}), 'owner tasks/list');
  const ids = (listed.tasks ?? []).map((t) => t.taskId);
  check(ids.includes(readable) && ids.includes(running), `owner does not see its own tasks: ${short(listed)}`);
  const status = await pollUntil(
    async () => {
      const value = (await owner.request('tasks/get', { taskId: readable })).message?.result?.status;
      return { done: terminal(value), value };
    },
    { timeoutMs: 30000, intervalMs: 250, what: `owner's task ${readable}` },
  );
  check(status === 'completed', `owner's task ${readable} ended ${status}`);
  return `${readable} completed, ${running} working`;
});

await steps.run('E) token intruder can neither list, read, fetch nor cancel the owner\'s tasks', async () => {
  const leaks = [];
  const refused = (reply, what) => {
    if (reply.text.includes('owner-secret')) leaks.push(`${what} returns the owner's result: ${short(reply.message ?? reply.text, 260)}`);
    else if (!reply.message?.error) leaks.push(`${what} answers HTTP ${reply.status} ${short(reply.message ?? reply.text, 260)}`);
  };
  const listed = await intruder.request('tasks/list', {});
  const seen = (listed.message?.result?.tasks ?? []).map((t) => t.taskId).filter((id) => id === readable || id === running);
  if (seen.length > 0) leaks.push(`tasks/list lists ${seen.join(', ')}`);
  refused(await intruder.request('tasks/get', { taskId: readable }), 'tasks/get');
  refused(await intruder.request('tasks/result', { taskId: readable }), 'tasks/result');
  const tasksExtension = { extensions: { 'io.modelcontextprotocol/tasks': {} } };
  refused(
    await stateless(scoped, 'tasks/get', { taskId: readable }, { token: 'intruder', meta: statelessMeta({ capabilities: tasksExtension }) }),
    `${STATELESS_VERSION} tasks/get`,
  );
  refused(await intruder.request('tasks/cancel', { taskId: running }), 'tasks/cancel');
  // Cancellation lands asynchronously: follow the task to its end.
  const after = await pollUntil(
    async () => {
      const value = (await owner.request('tasks/get', { taskId: running })).message?.result?.status;
      return { done: terminal(value), value };
    },
    { timeoutMs: 30000, intervalMs: 250, what: `owner's task ${running}` },
  );
  if (after !== 'completed') leaks.push(`the owner's task ${running}, cancelled by the intruder, ended ${after}`);
  check(leaks.length === 0, `another token reached the owner's tasks:\n    - ${leaks.join('\n    - ')}`);
  return `every request refused; ${running} ${after}`;
});

for (const node of nodes) await node.stop();
steps.finish();
