#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Interop check of cairn's MCP server against the official client SDK that
// speaks protocol 2026-07-28 (@modelcontextprotocol/client 2.4), over
// Streamable HTTP or stdio:
//   a) tools/list includes word_count (an exec tool from --config) and greet
//   b) word_count returns structured content {words: 4}
//   c) arguments failing the input schema surface as JSON-RPC -32602 naming the path
//   d) a slow_compute task survives SIGKILL of the node: after a restart on
//      the same data dir, tasks/get reports it completed, with its result.
//      client 2.4 has no tasks extension (it refuses a tools/call answered
//      with resultType "task": UNSUPPORTED_RESULT_TYPE), so the task is
//      created on the wire, through the SDK's transport; tasks/get, a plain
//      request to the SDK, goes through the SDK.
//
// Usage: node interop_2026.mjs --cairn BIN [--transport http|stdio] [--modules DIR] [--verbose]
// Exit: 0 all passed, 1 a step failed, 77 nothing failed but steps were skipped.

import {
  InteropServer,
  Steps,
  cairnFeatures,
  check,
  describeError,
  makeWorkspace,
  parseOptions,
  pollUntil,
  runToolSteps,
  sdkLoader,
  sdkStrict,
  toolText,
} from './lib/harness.mjs';

const USAGE = 'usage: interop_2026.mjs --cairn BIN [--transport http|stdio] [--modules DIR] [--verbose]';
const SDK_NAME = '@modelcontextprotocol/client 2.4';
const PROTOCOL_VERSION = '2026-07-28';
const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

const options = parseOptions(process.argv.slice(2), USAGE);
const load = sdkLoader(options.modulesDir);
const { CLIENT_CAPABILITIES_META_KEY, Client, ProtocolError, StreamableHTTPClientTransport, fromJsonSchema } =
  load('@modelcontextprotocol/client');
const { StdioClientTransport } = load('@modelcontextprotocol/client/stdio');

const server = new InteropServer({ options, features: cairnFeatures(options.cairn), workspace: makeWorkspace('cairn-interop-2026') });
const { withConfig } = server;
const steps = new Steps({ wireTaps: () => server.wireTaps(), logs: () => server.logs() });

// ---------------------------------------------------------------------------
// Connecting: one fresh client per server process life.

async function connect() {
  const client = new Client(
    { name: 'cairn-interop-2026', version: '1.0.0' },
    // No tasks extension here: this SDK cannot consume a task result, and
    // a server may answer any tools/call with one once it is declared.
    // The task steps declare it per request instead (see withTasks).
    { versionNegotiation: { mode: { pin: PROTOCOL_VERSION } } },
  );
  return server.connect(client, {
    label: 'client 2.4',
    transports: { StreamableHTTPClientTransport, StdioClientTransport },
    verify: () => {
      check(client.getProtocolEra() === 'modern', `expected the modern era, got ${client.getProtocolEra()}`);
      check(client.getNegotiatedProtocolVersion() === PROTOCOL_VERSION, `negotiated ${client.getNegotiatedProtocolVersion()}`);
    },
  });
}

// On 2026-07-28 capabilities travel with each request, so one request can
// opt into the tasks extension; the SDK lets request _meta override its own.
function withTasks(params) {
  return {
    ...params,
    _meta: { ...params._meta, [CLIENT_CAPABILITIES_META_KEY]: { extensions: { [TASKS_EXTENSION]: {} } } },
  };
}

// ---------------------------------------------------------------------------

console.log(`interop 2026-07-28: client 2.4 against ${options.cairn} over ${options.transport}`);
server.checkSupport(steps);

let connection;
await steps.run(`start the server and connect (server/discover, pinned ${PROTOCOL_VERSION})`, async () => {
  await server.start();
  connection = await connect();
  const discover = connection.client.getDiscoverResult();
  return `server ${JSON.stringify(connection.client.getServerVersion() ?? null)}, versions ${JSON.stringify(discover?.supportedVersions ?? null)}`;
});

// a) tools/list, b) word_count, c) word_count with bad arguments.
await runToolSteps(steps, connection, {
  withConfig,
  checkRejection: (error) => {
    check(error instanceof ProtocolError, `expected a JSON-RPC error from the server, got ${describeError(error)}`);
  },
});

// d) a task that outlives its server process.
const TaskGetResult = fromJsonSchema({
  type: 'object',
  properties: { taskId: { type: 'string' }, status: { type: 'string' } },
  required: ['taskId', 'status'],
});
let taskId;
let pollIntervalMs = 250;
await steps.run('d) slow_compute {seconds:2,label:"durable"} starts a task (on the wire: client 2.4 has no tasks extension)', async () => {
  const params = withTasks({ name: 'slow_compute', arguments: { seconds: 2, label: 'durable' } });
  params._meta = {
    'io.modelcontextprotocol/protocolVersion': PROTOCOL_VERSION,
    'io.modelcontextprotocol/clientInfo': { name: 'cairn-interop-2026', version: '1.0.0' },
    ...params._meta,
  };
  const answer = await connection.tap.wireRequest('tools/call', params);
  check(answer.result, `expected a result, got ${JSON.stringify(answer)}`);
  const created = answer.result;
  check(created.resultType === 'task', `expected resultType "task", got ${JSON.stringify(created)}`);
  check(typeof created.taskId === 'string' && created.taskId !== '', `no taskId in ${JSON.stringify(created)}`);
  check(created.status === 'working', `status ${JSON.stringify(created.status)}, expected "working"`);
  for (const field of ['createdAt', 'lastUpdatedAt']) check(typeof created[field] === 'string', `${field} missing in ${JSON.stringify(created)}`);
  for (const field of ['ttlMs', 'pollIntervalMs']) check(typeof created[field] === 'number', `${field} missing in ${JSON.stringify(created)}`);
  taskId = created.taskId;
  pollIntervalMs = created.pollIntervalMs;
  return `taskId ${taskId}, pollIntervalMs ${pollIntervalMs}`;
});

await steps.run('   SIGKILL the server right away, restart it on the same data dir', async () => {
  const killedPid = await server.kill(connection);
  await server.disconnect(connection);
  await server.start();
  connection = await connect();
  const where = options.transport === 'http' ? `same port ${server.httpNode.port}` : `new stdio child ${connection.pid}`;
  return `killed pid ${killedPid}; ${where}`;
});

await steps.run('   tasks/get until completed, result text contains "computed durable"', async () => {
  let polls = 0;
  const task = await pollUntil(
    async () => {
      polls++;
      const value = await sdkStrict({
        sdk: SDK_NAME,
        tap: connection.tap,
        run: () => connection.client.request({ method: 'tasks/get', params: withTasks({ taskId }) }, TaskGetResult),
        method: 'tasks/get',
        what: 'the tasks/get result',
      });
      const terminal = ['completed', 'failed', 'cancelled'].includes(value.status);
      return { done: terminal, value };
    },
    { timeoutMs: 30000, intervalMs: pollIntervalMs, what: `task ${taskId}` },
  );
  check(task.taskId === taskId, `tasks/get answered for ${task.taskId}`);
  check(task.status === 'completed', `task ended ${task.status}: ${JSON.stringify(task)}`);
  check(task.result, `completed task carries no result: ${JSON.stringify(task)}`);
  const text = toolText(task.result);
  check(text.includes('computed durable'), `result text ${JSON.stringify(text)}`);
  return `${polls} polls, ${JSON.stringify(text)}`;
});

await server.finish(steps, connection);
