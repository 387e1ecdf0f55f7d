#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Baseline for the MCP benchmark: the official TypeScript server SDK (2.4)
// serving one tool, echo {text} -> text, over Streamable HTTP. It uses the
// SDK's per-request handler, so 2026-07-28 requests are served statelessly
// (a fresh server instance per request, as the SDK intends), and mounts it
// on plain node:http.
//
// Usage: node echo_server.mjs PORT [--modules DIR]
// Prints "echo server ready: http://127.0.0.1:PORT/mcp" once listening.

import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const modulesAt = args.indexOf('--modules');
const modulesDir = modulesAt >= 0 ? path.resolve(args[modulesAt + 1]) : path.resolve(here, '../../tests/conformance/node_modules');
const port = Number(args.find((arg, i) => /^\d+$/.test(arg) && args[i - 1] !== '--modules'));
if (!Number.isInteger(port)) {
  console.error('usage: echo_server.mjs PORT [--modules DIR]');
  process.exit(2);
}

// The SDK is installed with the conformance tooling; load it from there.
const require = createRequire(path.join(modulesDir, 'loader.cjs'));
const { McpServer, createMcpHandler, fromJsonSchema } = require('@modelcontextprotocol/server');

const echoInput = fromJsonSchema({
  type: 'object',
  properties: { text: { type: 'string' } },
  required: ['text'],
});

function makeServer() {
  const server = new McpServer({ name: 'echo-baseline', version: '1.0.0' });
  server.registerTool('echo', { description: 'Returns the text it was given', inputSchema: echoInput }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  return server;
}

const handler = createMcpHandler(makeServer, { onerror: (error) => console.error(`echo server: ${error.message}`) });

// node:http <-> fetch Request/Response, enough for JSON and SSE bodies.
async function serve(req, res) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const request = new Request(`http://${req.headers.host ?? `127.0.0.1:${port}`}${req.url}`, {
    method: req.method,
    headers,
    body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
  });
  const response = await handler.fetch(request);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (!response.body) {
    res.end();
    return;
  }
  for await (const chunk of response.body) res.write(chunk);
  res.end();
}

const http = createServer((req, res) => {
  serve(req, res).catch((error) => {
    console.error(`echo server: ${error.stack ?? error}`);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});
http.keepAliveTimeout = 60000;
http.listen(port, '127.0.0.1', () => {
  console.log(`echo server ready: http://127.0.0.1:${http.address().port}/mcp`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    http.close();
    handler.close().finally(() => process.exit(0));
  });
}
