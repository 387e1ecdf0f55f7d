// SPDX-License-Identifier: Apache-2.0
// Shared plumbing for the MCP interop scripts: command line, step reporting,
// temp workspaces, starting and killing cairn nodes, and a wire tap that
// keeps the raw JSON-RPC traffic so a rejected exchange can be shown as-is.
// Everything the scripts start is killed and removed on exit, also on failure.

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const here = path.dirname(fileURLToPath(import.meta.url));
export const mcpTestsDir = path.resolve(here, '..');
const defaultModulesDir = path.resolve(here, '../../conformance/node_modules');

// Exit code for "nothing failed, but some steps could not run yet"
// (the code CTest's SKIP_RETURN_CODE conventionally uses).
export const EXIT_SKIPPED = 77;

// ---------------------------------------------------------------------------
// Command line

export function parseOptions(argv, usage) {
  const options = { cairn: undefined, transport: 'http', modulesDir: defaultModulesDir, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usageError(usage, `${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--cairn') options.cairn = path.resolve(value());
    else if (arg === '--transport') options.transport = value();
    else if (arg === '--modules') options.modulesDir = path.resolve(value());
    else if (arg === '--verbose' || arg === '-v') options.verbose = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    } else usageError(usage, `unknown argument ${arg}`);
  }
  if (!options.cairn) usageError(usage, '--cairn BIN is required');
  try {
    accessSync(options.cairn, constants.X_OK);
  } catch {
    usageError(usage, `${options.cairn} is not an executable file`);
  }
  if (!['http', 'stdio'].includes(options.transport)) usageError(usage, '--transport must be http or stdio');
  return options;
}

function usageError(usage, message) {
  console.error(`error: ${message}\n${usage}`);
  process.exit(2);
}

// The SDKs live with the conformance tooling; load them from there by path
// so these scripts need no node_modules of their own. CommonJS builds are
// used throughout so every module shares one copy of each dependency.
export function sdkLoader(modulesDir) {
  const require = createRequire(path.join(modulesDir, 'loader.cjs'));
  return (specifier) => require(specifier);
}

// ---------------------------------------------------------------------------
// Cleanup: child processes and temp directories go away however we exit.

const cleanups = [];

export function onCleanup(fn) {
  cleanups.push(fn);
}

function runCleanups() {
  while (cleanups.length > 0) {
    const fn = cleanups.pop();
    try {
      fn();
    } catch {
      // Best effort: one failed cleanup must not keep the others from running.
    }
  }
}

process.on('exit', runCleanups);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`interrupted by ${signal}`);
    process.exit(130);
  });
}

export function killQuietly(pid, signal = 'SIGKILL') {
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitForExit(pid, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

// ---------------------------------------------------------------------------
// Steps: one line per step; the first failure ends the run with exit code 1.

export class StepFailure extends Error {}

export function check(condition, message) {
  if (!condition) throw new StepFailure(message);
}

export class Steps {
  constructor({ wireTaps = () => [], logs = () => [] } = {}) {
    this.passed = 0;
    this.skipped = 0;
    this.wireTaps = wireTaps;
    this.logs = logs;
  }

  async run(title, body) {
    const started = Date.now();
    try {
      const detail = await body();
      const ms = Date.now() - started;
      console.log(`ok    ${title}${detail ? `: ${detail}` : ''} (${ms} ms)`);
      this.passed++;
    } catch (error) {
      this.fail(title, error);
    }
  }

  skip(title, reason) {
    console.log(`skip  ${title}: ${reason}`);
    this.skipped++;
  }

  fail(title, error) {
    console.log(`FAIL  ${title}: ${describeError(error)}`);
    if (!(error instanceof StepFailure) && error?.stack) console.log(indent(error.stack));
    for (const tap of this.wireTaps()) {
      const lines = tap.describe();
      if (lines) console.log(`  last JSON-RPC traffic (${tap.label}):\n${indent(lines, 4)}`);
    }
    for (const log of this.logs()) {
      const text = log.tail();
      if (text) console.log(`  ${log.label} output (tail):\n${indent(text, 4)}`);
    }
    process.exit(1);
  }

  finish() {
    const summary = `${this.passed} passed, ${this.skipped} skipped`;
    if (this.skipped > 0) {
      console.log(`done: ${summary} (exit ${EXIT_SKIPPED}: some steps need features this cairn lacks)`);
      process.exit(EXIT_SKIPPED);
    }
    console.log(`done: ${summary}`);
    process.exit(0);
  }
}

export function describeError(error) {
  if (!(error instanceof Error)) return String(error);
  const parts = [`${error.constructor?.name ?? 'Error'}: ${error.message}`];
  if (error.code !== undefined) parts.push(`code ${JSON.stringify(error.code)}`);
  if (error.data !== undefined) parts.push(`data ${JSON.stringify(error.data)}`);
  return parts.join(', ');
}

function indent(text, width = 2) {
  const pad = ' '.repeat(width);
  return String(text)
    .split('\n')
    .map((line) => pad + line)
    .join('\n');
}

// Returns the error a promise rejects with, or fails when it resolves.
export async function rejectionOf(promise, what) {
  try {
    const value = await promise;
    throw new StepFailure(`${what} succeeded, expected an error; got ${JSON.stringify(value)}`);
  } catch (error) {
    if (error instanceof StepFailure) throw error;
    return error;
  }
}

export async function pollUntil(probe, { timeoutMs, intervalMs = 200, what }) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last.done) return last.value;
    if (Date.now() > deadline) throw new StepFailure(`${what}: gave up after ${timeoutMs} ms; last seen ${JSON.stringify(last.value)}`);
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------
// Workspace: a temp dir with the node's data dir and a config declaring the
// word_count exec tool.

export const wordCountTool = () => ({
  name: 'word_count',
  description: 'Counts words',
  type: 'exec',
  command: [process.execPath, path.join(mcpTestsDir, 'tools', 'word_count.mjs')],
  timeout_ms: 5000,
  input_schema: {
    type: 'object',
    properties: { text: { type: 'string' } },
    required: ['text'],
    additionalProperties: false,
  },
  output_schema: {
    type: 'object',
    properties: { words: { type: 'integer' } },
    required: ['words'],
  },
});

export function makeWorkspace(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = path.join(dir, 'cairn.json');
  writeFileSync(configPath, `${JSON.stringify({ mcp_tools: [wordCountTool()] }, null, 2)}\n`);
  return { dir, dataDir: path.join(dir, 'data'), configPath };
}

// What this cairn binary can do, read from its help text, so steps that
// need a missing feature are reported as skipped rather than failing.
export function cairnFeatures(cairn) {
  const help = (args) => {
    const result = spawnSync(cairn, args, { encoding: 'utf8', timeout: 10000 });
    return { ok: result.status === 0, text: `${result.stdout ?? ''}${result.stderr ?? ''}` };
  };
  const node = help(['node', '--help']);
  if (!node.ok) {
    console.error(`error: ${cairn} node --help failed:\n${node.text}`);
    process.exit(2);
  }
  // An unknown subcommand may still print the top-level help with status 0,
  // so look for an option only the stdio command has.
  const stdioHelp = help(['mcp', 'stdio', '--help']);
  const stdio = { ok: stdioHelp.ok && /--data\b/.test(stdioHelp.text), text: stdioHelp.text };
  return {
    httpConfig: /--config\b/.test(node.text),
    stdio: stdio.ok,
    stdioConfig: stdio.ok && /--config\b/.test(stdio.text),
  };
}

// ---------------------------------------------------------------------------
// Output ring: the last lines a child wrote, for failure reports.

export class OutputRing {
  constructor(label, limit = 60) {
    this.label = label;
    this.limit = limit;
    this.lines = [];
    this.partial = '';
  }

  push(chunk) {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop();
    for (const line of lines) {
      this.lines.push(line);
      if (this.lines.length > this.limit) this.lines.shift();
    }
  }

  tail() {
    return [...this.lines, this.partial].filter(Boolean).join('\n');
  }
}

// ---------------------------------------------------------------------------
// A cairn node serving MCP over HTTP, run as our child. It runs the
// conformance profile unless told otherwise (profile null: the default
// profile, the delivery demo's tools); mcpTokens become --mcp-token flags.

export class CairnHttpNode {
  constructor({ cairn, dataDir, configPath, port = 0, profile = 'conformance', mcpTokens = [], extraArgs = [], verbose = false }) {
    this.cairn = cairn;
    this.dataDir = dataDir;
    this.configPath = configPath;
    this.port = port;
    this.profile = profile;
    this.extraArgs = extraArgs;
    this.mcpTokens = mcpTokens;
    this.verbose = verbose;
    this.output = new OutputRing('cairn node');
    this.child = undefined;
    this.baseUrl = undefined;
  }

  get mcpUrl() {
    return `${this.baseUrl}/mcp`;
  }

  get pid() {
    return this.child?.pid;
  }

  args() {
    const args = ['node', '--data', this.dataDir, '--http', `127.0.0.1:${this.port}`];
    if (this.profile !== null) args.push('--profile', this.profile);
    args.push('--no-progress');
    if (this.configPath) args.push('--config', this.configPath);
    for (const token of this.mcpTokens) args.push('--mcp-token', token);
    args.push(...this.extraArgs);
    return args;
  }

  // Restarting on the same port can briefly race the old socket; retry a
  // few times before calling it a failure.
  async start({ attempts = 5, timeoutMs = 15000 } = {}) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startOnce(timeoutMs);
      } catch (error) {
        if (attempt >= attempts || !/address|bind|in use/i.test(error.message)) throw error;
        await sleep(300);
      }
    }
  }

  startOnce(timeoutMs) {
    const child = spawn(this.cairn, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    onCleanup(() => killQuietly(child.pid));
    child.stderr.on('data', (chunk) => {
      this.output.push(chunk);
      if (this.verbose) process.stderr.write(chunk);
    });
    return new Promise((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => {
        killQuietly(child.pid);
        reject(new Error(`cairn node printed no ready line within ${timeoutMs} ms\n${this.output.tail()}`));
      }, timeoutMs);
      child.stdout.on('data', (chunk) => {
        this.output.push(chunk);
        if (this.verbose) process.stderr.write(chunk);
        stdout += chunk.toString('utf8');
        const ready = /cairn node ready: (http:\/\/[^\s,]+)/.exec(stdout);
        if (ready && this.baseUrl === undefined) {
          clearTimeout(timer);
          this.baseUrl = ready[1];
          this.port = Number(new URL(this.baseUrl).port);
          resolve(this);
        }
      });
      child.on('exit', (code, signal) => {
        if (this.baseUrl !== undefined) return;
        clearTimeout(timer);
        reject(new Error(`cairn node exited before ready (code ${code}, signal ${signal}):\n${this.output.tail()}`));
      });
    });
  }

  async kill(signal = 'SIGKILL') {
    const pid = this.child?.pid;
    killQuietly(pid, signal);
    if (!(await waitForExit(pid))) throw new Error(`cairn node ${pid} did not exit after ${signal}`);
    this.baseUrl = undefined;
  }

  async stop() {
    const pid = this.child?.pid;
    if (!pid || !isAlive(pid)) return;
    killQuietly(pid, 'SIGTERM');
    if (!(await waitForExit(pid, 10000))) killQuietly(pid, 'SIGKILL');
  }
}

// Arguments for `cairn mcp stdio`, for an SDK stdio transport to spawn.
export function stdioServerArgs({ dataDir, configPath }) {
  const args = ['mcp', 'stdio', '--data', dataDir, '--profile', 'conformance'];
  if (configPath) args.push('--config', configPath);
  return args;
}

// ---------------------------------------------------------------------------
// Wire tap: records JSON-RPC messages a transport sends and receives. It
// patches the instance (not the class), so SDK code that checks the
// transport's class still sees the original.

export class WireTap {
  constructor(label, limit = 30) {
    this.label = label;
    this.limit = limit;
    this.entries = [];
    this.pending = new Map();
    this.wireIds = 0;
  }

  attach(transport) {
    this.transport = transport;
    const send = transport.send.bind(transport);
    transport.send = (message, options) => {
      this.record('→', message);
      return send(message, options);
    };
    let handler;
    const tapped = (message, extra) => {
      this.record('←', message);
      const waiting = !('method' in message) && this.pending.get(message.id);
      if (waiting) {
        this.pending.delete(message.id);
        return waiting(message);
      }
      handler?.(message, extra);
    };
    Object.defineProperty(transport, 'onmessage', {
      configurable: true,
      enumerable: true,
      get: () => (handler ? tapped : undefined),
      set: (fn) => {
        handler = fn;
      },
    });
    return transport;
  }

  // Sends one JSON-RPC request through the SDK's own transport but not
  // through the SDK's result handling: for a feature the SDK lacks, tested
  // on the wire in a step that says so. The answer (matched by our own
  // string id, which the SDK never uses) is returned whole, error or result,
  // and not handed to the SDK. The limit only keeps a hung server from
  // hanging the run.
  async wireRequest(method, params, { limitMs = 30000 } = {}) {
    const id = `wire-${++this.wireIds}`;
    const answer = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StepFailure(`no answer to ${method} (id ${id}) within ${limitMs} ms`));
      }, limitMs);
      this.pending.set(id, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
    await this.transport.send({ jsonrpc: '2.0', id, method, params });
    return answer;
  }

  record(direction, message) {
    this.entries.push({ direction, message });
    if (this.entries.length > this.limit) this.entries.shift();
  }

  // The last request we sent for `method` (and tool name, for tools/call)
  // and the response that came back for it.
  exchange(method, toolName) {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const { direction, message } = this.entries[i];
      if (direction !== '→' || message.method !== method) continue;
      if (toolName !== undefined && message.params?.name !== toolName) continue;
      const response = this.entries.slice(i + 1).find((e) => e.direction === '←' && e.message.id === message.id && !('method' in e.message));
      return { request: message, response: response?.message };
    }
    return { request: undefined, response: undefined };
  }

  describe(count = 8) {
    return this.entries
      .slice(-count)
      .map(({ direction, message }) => `${direction} ${truncate(JSON.stringify(message), 600)}`)
      .join('\n');
  }
}

function truncate(text, max) {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}

// ---------------------------------------------------------------------------
// SDK rejections: what an official SDK refused, with the exact exchange.

function sdkRejection({ sdk, what, exchange, error }) {
  const lines = [`${sdk} rejected ${what}: ${describeError(error)}`];
  if (exchange?.request) lines.push(`  request:  ${truncate(JSON.stringify(exchange.request), 800)}`);
  if (exchange?.response) lines.push(`  response: ${truncate(JSON.stringify(exchange.response), 800)}`);
  return lines.join('\n');
}

export function toolText(result) {
  return (result?.content ?? [])
    .filter((block) => block.type === 'text')
    .map((block) => block.text)
    .join('\n');
}

// Whether a validation message points at the `text` argument: as a path
// ($.text or $[text]) or as the named missing property ('text').
export function namesTextPath(message) {
  return /\$\.text\b|\$\[['"]?text['"]?\]|'text'/.test(String(message));
}

// Runs an SDK call. An official SDK that rejects cairn's answer is a failed
// step, never a note: the step fails with the exact exchange (request and
// response on the wire) and the SDK's error, so the report shows what to fix.
// A feature an SDK lacks is not worked around here: the test says so in its
// name and checks that feature on the wire in a step of its own.
export async function sdkStrict({ sdk, tap, run, method, toolName, what }) {
  try {
    return await run();
  } catch (error) {
    if (error instanceof StepFailure) throw error;
    const exchange = tap.exchange(method, toolName);
    throw new StepFailure(sdkRejection({ sdk, what, exchange, error }));
  }
}

// ---------------------------------------------------------------------------
// Interop runs (interop_2025.mjs, interop_2026.mjs): one SDK client against
// cairn over HTTP or stdio. Over HTTP the server is a node we start (again on
// the same port after a kill); over stdio it is the child each SDK transport
// spawns. Open connections are kept for the failure report and for cleanup.

const INVALID_PARAMS = -32602;

export class InteropServer {
  constructor({ options, features, workspace }) {
    this.options = options;
    this.features = features;
    this.workspace = workspace;
    this.withConfig = options.transport === 'http' ? features.httpConfig : features.stdioConfig;
    this.httpNode = undefined;
    this.connections = [];
  }

  get configPath() {
    return this.withConfig ? this.workspace.configPath : undefined;
  }

  // For Steps: what a failure report shows.
  wireTaps() {
    return this.connections.map((c) => c.tap);
  }

  logs() {
    return [this.httpNode?.output, ...this.connections.map((c) => c.stderr)].filter(Boolean);
  }

  // Ends the run as skipped when this cairn cannot serve the transport at all.
  checkSupport(steps) {
    if (this.options.transport === 'stdio' && !this.features.stdio) {
      steps.skip('all steps', 'this cairn has no `mcp stdio` command yet');
      steps.finish();
    }
    if (!this.withConfig) console.log('      (this cairn does not take --config yet: word_count steps are skipped)');
  }

  async start() {
    if (this.options.transport !== 'http') return;
    this.httpNode = new CairnHttpNode({
      cairn: this.options.cairn,
      dataDir: this.workspace.dataDir,
      configPath: this.configPath,
      port: this.httpNode?.port ?? 0,
      verbose: this.options.verbose,
    });
    await this.httpNode.start();
  }

  // Connects `client` with a wire tap attached. `transports` are the SDK's
  // two transport classes; `verify(transport)` runs once connected, before
  // the connection is kept.
  async connect(client, { label, transports, verify = () => {} }) {
    const tap = new WireTap(`${label} over ${this.options.transport}`);
    let transport;
    let stderr;
    if (this.options.transport === 'http') {
      transport = new transports.StreamableHTTPClientTransport(new URL(this.httpNode.mcpUrl));
    } else {
      transport = new transports.StdioClientTransport({
        command: this.options.cairn,
        args: stdioServerArgs({ dataDir: this.workspace.dataDir, configPath: this.configPath }),
        stderr: 'pipe',
      });
      stderr = this.stderrRing(transport);
    }
    tap.attach(transport);
    client.onerror = (error) => {
      if (this.options.verbose) console.error(`client error: ${describeError(error)}`);
    };
    await client.connect(transport);
    verify(transport);
    const connection = { client, transport, tap, stderr, pid: transport.pid ?? undefined };
    if (connection.pid) onCleanup(() => killQuietly(connection.pid));
    this.connections.push(connection);
    return connection;
  }

  stderrRing(transport) {
    // The transport exposes the child's stderr stream before start().
    const ring = { label: 'cairn mcp stdio stderr', lines: [], tail: () => ring.lines.slice(-40).join('') };
    transport.stderr?.on('data', (chunk) => {
      ring.lines.push(chunk.toString('utf8'));
      if (this.options.verbose) process.stderr.write(chunk);
    });
    return ring;
  }

  async disconnect(connection) {
    await connection.client.close().catch(() => {});
    this.connections.splice(this.connections.indexOf(connection), 1);
  }

  // Kills the server process hard: the node for HTTP, the stdio child
  // otherwise. Returns the pid it killed.
  async kill(connection) {
    if (this.options.transport === 'http') {
      const pid = this.httpNode.pid;
      await this.httpNode.kill('SIGKILL');
      return pid;
    }
    killQuietly(connection.pid, 'SIGKILL');
    check(await waitForExit(connection.pid), `stdio server ${connection.pid} survived SIGKILL`);
    return connection.pid;
  }

  // Closes the last connection and the node, then ends the run.
  async finish(steps, connection) {
    await this.disconnect(connection);
    await this.httpNode?.stop();
    steps.finish();
  }
}

// The tool steps both interop scripts run: a) tools/list, greet, b) word_count
// (an exec tool from --config) returns structured content, c) arguments
// failing its input schema are -32602 naming the path. How each SDK surfaces
// that error differs: `checkRejection(error, connection)` checks that part.
export async function runToolSteps(steps, connection, { withConfig, checkRejection }) {
  await steps.run('a) tools/list includes greet' + (withConfig ? ' and word_count' : ''), async () => {
    const { tools } = await connection.client.listTools();
    const names = tools.map((tool) => tool.name);
    check(names.includes('greet'), `greet missing from ${JSON.stringify(names)}`);
    if (withConfig) {
      check(names.includes('word_count'), `word_count missing from ${JSON.stringify(names)}`);
      const wordCount = tools.find((tool) => tool.name === 'word_count');
      check(wordCount.outputSchema?.properties?.words, `word_count has no output schema: ${JSON.stringify(wordCount)}`);
    }
    return `${names.length} tools`;
  });

  await steps.run('   greet {name:"cairn"} answers "Hello, cairn!"', async () => {
    const result = await connection.client.callTool({ name: 'greet', arguments: { name: 'cairn' } });
    check(toolText(result).includes('Hello, cairn!'), `unexpected result ${JSON.stringify(result)}`);
    return JSON.stringify(toolText(result));
  });

  // b) and c) need the exec tool from the config file.
  if (!withConfig) {
    steps.skip('b) word_count gives words == 4', 'needs --config');
    steps.skip('c) word_count with bad arguments', 'needs --config');
    return;
  }

  await steps.run('b) word_count {text:"agents think events execute"} gives words == 4', async () => {
    const result = await connection.client.callTool({ name: 'word_count', arguments: { text: 'agents think events execute' } });
    check(!result.isError, `tool error: ${JSON.stringify(result)}`);
    check(result.structuredContent?.words === 4, `structuredContent ${JSON.stringify(result.structuredContent)}`);
    return `structuredContent ${JSON.stringify(result.structuredContent)}, text ${JSON.stringify(toolText(result))}`;
  });

  for (const [label, args] of [
    ['{text:5}', { text: 5 }],
    ['{}', {}],
  ]) {
    await steps.run(`c) word_count ${label} is rejected with -32602 naming the path to text`, async () => {
      const error = await rejectionOf(connection.client.callTool({ name: 'word_count', arguments: args }), `word_count ${label}`);
      checkRejection(error, connection);
      check(error.code === INVALID_PARAMS, `expected code ${INVALID_PARAMS}, got ${error.code}: ${error.message}`);
      check(namesTextPath(error.message), `message does not name the path to text: ${JSON.stringify(error.message)}`);
      return JSON.stringify(error.message);
    });
  }
}
