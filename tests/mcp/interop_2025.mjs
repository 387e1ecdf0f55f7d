#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Interop check of cairn's MCP server against the official SDK that speaks
// protocol 2025-11-25 (@modelcontextprotocol/sdk 1.32), over Streamable
// HTTP (stateful sessions) or stdio:
//   a) tools/list includes word_count (an exec tool from --config) and greet
//   b) word_count returns structured content {words: 4}
//   c) arguments failing the input schema surface as JSON-RPC -32602 naming the path
//   d) a slow_compute task (experimental tasks: params.task) survives SIGKILL
//      of the node: after a restart on the same data dir, tasks/get reports
//      it completed and tasks/result returns its result
//
// Usage: node interop_2025.mjs --cairn BIN [--transport http|stdio] [--modules DIR] [--verbose]
// Exit: 0 all passed, 1 a step failed, 77 nothing failed but steps were skipped.

import {
  InteropServer,
  StepFailure,
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

const USAGE = 'usage: interop_2025.mjs --cairn BIN [--transport http|stdio] [--modules DIR] [--verbose]';
const SDK_NAME = '@modelcontextprotocol/sdk 1.32';
const PROTOCOL_VERSION = '2025-11-25';

const options = parseOptions(process.argv.slice(2), USAGE);
const load = sdkLoader(options.modulesDir);
const { Client } = load('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = load('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { StdioClientTransport } = load('@modelcontextprotocol/sdk/client/stdio.js');
const { CallToolResultSchema, McpError } = load('@modelcontextprotocol/sdk/types.js');

const server = new InteropServer({ options, features: cairnFeatures(options.cairn), workspace: makeWorkspace('cairn-interop-2025') });
const { withConfig } = server;
const steps = new Steps({ wireTaps: () => server.wireTaps(), logs: () => server.logs() });

// ---------------------------------------------------------------------------
// Connecting: one fresh client (and, over HTTP, session) per server process life.

async function connect() {
  // Strict capabilities: the SDK refuses to send what the server did not
  // advertise, task-augmented tools/call included.
  const client = new Client({ name: 'cairn-interop-2025', version: '1.0.0' }, { capabilities: {}, enforceStrictCapabilities: true });
  return server.connect(client, {
    label: 'sdk 1.32',
    transports: { StreamableHTTPClientTransport, StdioClientTransport },
    verify: (transport) => check(transport.protocolVersion === undefined || transport.protocolVersion === PROTOCOL_VERSION, `negotiated ${transport.protocolVersion}`),
  });
}

// ---------------------------------------------------------------------------

console.log(`interop 2025-11-25: sdk 1.32 against ${options.cairn} over ${options.transport}`);
server.checkSupport(steps);

let connection;
await steps.run(`start the server and connect (initialize, ${PROTOCOL_VERSION})`, async () => {
  await server.start();
  connection = await connect();
  const info = connection.client.getServerVersion();
  const session = connection.transport.sessionId;
  return `server ${JSON.stringify(info)}${session ? `, session ${session}` : ''}, capabilities ${JSON.stringify(connection.client.getServerCapabilities())}`;
});

// a) tools/list, b) word_count, c) word_count with bad arguments.
await runToolSteps(steps, connection, {
  withConfig,
  checkRejection: (error, { tap }) => {
    const wire = tap.exchange('tools/call', 'word_count').response;
    check(wire?.error, `expected a JSON-RPC error on the wire, got ${JSON.stringify(wire)} (SDK: ${describeError(error)})`);
    check(error instanceof McpError, `expected the SDK to surface an McpError, got ${describeError(error)}`);
  },
});

// d) a task that outlives its server process.
const taskCapability = connection.client.getServerCapabilities()?.tasks;
if (!taskCapability?.requests?.tools?.call) {
  steps.skip('d) slow_compute as a task survives SIGKILL', `server advertises no tasks.requests.tools.call (tasks: ${JSON.stringify(taskCapability ?? null)})`);
} else {
  let taskId;
  let pollIntervalMs = 250;
  await steps.run('d) slow_compute {seconds:2,label:"durable"} with params.task starts a task', async () => {
    const task = await sdkStrict({
      sdk: SDK_NAME,
      tap: connection.tap,
      run: () => firstCreatedTask(connection),
      method: 'tools/call',
      toolName: 'slow_compute',
      what: 'the CreateTaskResult of a task-augmented tools/call',
    }).then((value) => value.task ?? value);
    check(typeof task.taskId === 'string' && task.taskId !== '', `no taskId in ${JSON.stringify(task)}`);
    check(task.status === 'working', `status ${JSON.stringify(task.status)}, expected "working"`);
    for (const field of ['createdAt', 'lastUpdatedAt']) check(typeof task[field] === 'string', `${field} missing in ${JSON.stringify(task)}`);
    check('ttl' in task, `ttl missing in ${JSON.stringify(task)}`);
    taskId = task.taskId;
    pollIntervalMs = task.pollInterval ?? pollIntervalMs;
    return `taskId ${taskId}, ttl ${task.ttl}, pollInterval ${task.pollInterval}`;
  });

  await steps.run('   SIGKILL the server right away, restart it on the same data dir', async () => {
    const killedPid = await server.kill(connection);
    await server.disconnect(connection);
    await server.start();
    connection = await connect();
    const where = options.transport === 'http' ? `same port ${server.httpNode.port}, new session ${connection.transport.sessionId}` : `new stdio child ${connection.pid}`;
    return `killed pid ${killedPid}; ${where}`;
  });

  await steps.run('   tasks/get until completed', async () => {
    let polls = 0;
    const task = await pollUntil(
      async () => {
        polls++;
        const value = await sdkStrict({
          sdk: SDK_NAME,
          tap: connection.tap,
          run: () => connection.client.experimental.tasks.getTask(taskId),
          method: 'tasks/get',
          what: 'the tasks/get result',
        });
        return { done: ['completed', 'failed', 'cancelled'].includes(value.status), value };
      },
      { timeoutMs: 30000, intervalMs: pollIntervalMs, what: `task ${taskId}` },
    );
    check(task.taskId === taskId, `tasks/get answered for ${task.taskId}`);
    check(task.status === 'completed', `task ended ${task.status}: ${JSON.stringify(task)}`);
    return `${polls} polls`;
  });

  await steps.run('   tasks/result text contains "computed durable"', async () => {
    const result = await sdkStrict({
      sdk: SDK_NAME,
      tap: connection.tap,
      run: () => connection.client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema),
      method: 'tasks/result',
      what: 'the tasks/result result',
    });
    check(!result.isError, `tool error: ${JSON.stringify(result)}`);
    const text = toolText(result);
    check(text.includes('computed durable'), `result text ${JSON.stringify(text)}`);
    return JSON.stringify(text);
  });
}

await server.finish(steps, connection);

// The SDK's task API streams a call's life: taskCreated, then status polls,
// then the result. We only want the task: stop the stream as soon as it
// exists, so the server can be killed while the task is still working.
async function firstCreatedTask({ client }) {
  const stream = client.experimental.tasks.callToolStream(
    { name: 'slow_compute', arguments: { seconds: 2, label: 'durable' } },
    CallToolResultSchema,
    { task: { ttl: 600000 } },
  );
  for await (const message of stream) {
    if (message.type === 'taskCreated') return message.task;
    if (message.type === 'error') throw message.error;
    if (message.type === 'result') throw new StepFailure(`expected a task, the call completed at once: ${JSON.stringify(message.result)}`);
  }
  throw new Error('the task stream ended without a task');
}
