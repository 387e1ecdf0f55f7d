#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// `cairn mcp stdio --node URL` with the official TypeScript SDK as the
// client (StdioClientTransport, 2025-11-25), against a running node with the
// conformance profile:
//   A) the SDK connects through the bridge; tools/list pages like over HTTP
//   B) echo is answered, and the call is the node's: its actor is listed by
//      the node API
//   C) a server-to-client request (elicitation) reaches the SDK's handler and
//      its answer reaches the tool; progress notifications arrive
//   D) resources/read and the session's GET stream (tools/list_changed)
//   E) closing the transport ends the bridge with exit code 0
//
// Usage: node bridge.mjs --cairn BIN [--verbose]
// Exit: 0 all passed, 1 a step failed.

import path from 'node:path';

import {
  CairnHttpNode,
  Steps,
  check,
  killQuietly,
  makeWorkspace,
  onCleanup,
  parseOptions,
  pollUntil,
  sdkLoader,
  toolText,
  waitForExit,
} from './lib/harness.mjs';

const USAGE = 'usage: bridge.mjs --cairn BIN [--verbose]';
const options = parseOptions(process.argv.slice(2), USAGE);
const load = sdkLoader(options.modulesDir);
const { Client } = load('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = load('@modelcontextprotocol/sdk/client/stdio.js');
const { ElicitRequestSchema, ToolListChangedNotificationSchema } = load('@modelcontextprotocol/sdk/types.js');

const workspace = makeWorkspace('cairn-bridge');
let node;
let transport;
let client;
let bridgeStderr = '';
const steps = new Steps({ wireTaps: () => [], logs: () => [node?.output].filter(Boolean) });

console.log(`bridge: the official SDK over cairn mcp stdio --node, against ${options.cairn}`);

await steps.run('start a node (conformance profile)', async () => {
  node = new CairnHttpNode({ cairn: options.cairn, dataDir: path.join(workspace.dir, 'node'), verbose: options.verbose });
  await node.start();
  return node.baseUrl;
});

let listChanged = 0;
await steps.run('A) the SDK connects through `cairn mcp stdio --node URL` and lists the tools', async () => {
  client = new Client({ name: 'cairn-bridge', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, async (request) => ({
    action: 'accept',
    content: { username: 'sdk-user', email: `asked: ${request.params.message}` },
  }));
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    listChanged++;
  });
  transport = new StdioClientTransport({
    command: options.cairn,
    args: ['mcp', 'stdio', '--node', node.baseUrl],
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (chunk) => {
    bridgeStderr += chunk;
  });
  await client.connect(transport);
  const bridgePid = transport.pid;
  onCleanup(() => killQuietly(bridgePid));
  const names = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor);
  check(names.includes('echo') && names.includes('test_elicitation'), `tools: ${names.join(', ')}`);
  return `${names.length} tools, server ${client.getServerVersion()?.name}`;
});

await steps.run('B) echo through the bridge is a call on the node: its actor is in the node API', async () => {
  const result = await client.callTool({ name: 'echo', arguments: { text: 'hello from the SDK' } });
  check(toolText(result) === 'hello from the SDK', `echo answered ${JSON.stringify(result)}`);
  const actors = await pollUntil(
    async () => {
      const r = await fetch(`${node.baseUrl}/api/v1/actors?kind=tool.echo`);
      const body = await r.json();
      return { done: body.actors.length > 0, value: body.actors };
    },
    { timeoutMs: 30000, what: 'the echo call actor in /api/v1/actors' },
  );
  return actors.map((a) => a.id).join(', ');
});

await steps.run('C) elicitation reaches the SDK and its answer the tool; progress arrives', async () => {
  const result = await client.callTool({ name: 'test_elicitation', arguments: { message: 'who?' } });
  check(toolText(result).includes('"username":"sdk-user"'), `test_elicitation answered ${JSON.stringify(result)}`);
  const progress = [];
  await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, {
    onprogress: (p) => progress.push(p.progress),
  });
  check(progress.length >= 1, 'no notifications/progress');
  return `progress ${progress.join(', ')}`;
});

await steps.run('D) resources/read, and tools/list_changed from the node', async () => {
  const read = await client.readResource({ uri: 'test://static-text' });
  check(read.contents?.[0]?.text?.length > 0, `resources/read answered ${JSON.stringify(read)}`);
  await client.callTool({ name: 'test_trigger_tool_change', arguments: {} });
  await pollUntil(async () => ({ done: listChanged > 0, value: listChanged }), { timeoutMs: 10000, what: 'notifications/tools/list_changed' });
  return `${listChanged} list_changed notification(s)`;
});

await steps.run('E) closing the transport ends the bridge with exit code 0', async () => {
  const pid = transport.pid;
  let code;
  transport._process?.on('exit', (c) => {
    code = c;
  });
  await client.close();
  check(await waitForExit(pid, 10000), `the bridge (pid ${pid}) is still running\n${bridgeStderr}`);
  check(code === undefined || code === 0, `exit code ${code}\n${bridgeStderr}`);
  return `pid ${pid} exited`;
});

await node.stop();
steps.finish();
