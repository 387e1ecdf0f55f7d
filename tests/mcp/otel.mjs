#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// One trace from an agent's decision to the last worker (docs/observability.md):
// a scripted agent instrumented with the official OpenTelemetry JS SDK
// (@opentelemetry/sdk-node, exporting OTLP/HTTP JSON) opens the span "agent
// decides" and, inside it, calls cairn's place_order tool with the official
// MCP SDK, passing its trace context in params._meta.traceparent. The order
// crosses five actors; its payment fails once and is retried (order id
// otel-2 at --flaky-rate 0.5: the demo's gateway fails attempt 1 of that
// order's charge and not attempt 2, a fixed function of the id). An OTLP
// receiver here takes the agent's spans and cairn's, checking the JSON's
// shape, and the test asserts:
//   - one trace, whose only root is the agent's span;
//   - cairn's MCP request span is the agent span's child, the tool's call
//     actor its child, and every hop of the order is below;
//   - the payment's second attempt links retry_of its first;
//   - GET /api/v1/traces/{id} and `cairn trace` give the same tree, also
//     after the node was SIGKILLed and started again.
// Then a plan as the tool, killed mid-plan: inside the span "agent plans"
// the agent calls submit_plan (reserve -> charge 750.00 -> notify; a rule
// gives charges of 500.00 or more to an operator). While charge waits for
// approval the node is SIGKILLed and restarted; the operator approves over
// HTTP; the plan succeeds. The receiver holds one trace rooted at the agent's
// span with the plan's validation, the policy verdicts, the approval wait
// and every step's call; the submit_plan call that ran again after the
// restart is marked cairn.resumed and links resumed_from its accept. The
// only span missing is the MCP request the kill cut (never answered, so never
// recorded): its children are the only spans whose parent is absent.
//
// Usage: node otel.mjs --cairn BIN [--modules DIR] [--verbose]
// Exit: 0 all passed, 1 a step failed.

import http from 'node:http';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

import { CairnHttpNode, Steps, check, makeWorkspace, parseOptions, pollUntil, sdkLoader } from './lib/harness.mjs';

const USAGE = 'usage: otel.mjs --cairn BIN [--modules DIR] [--verbose]';
const options = parseOptions(process.argv.slice(2), USAGE);
const load = sdkLoader(options.modulesDir);
const otel = load('@opentelemetry/api');
const { NodeSDK } = load('@opentelemetry/sdk-node');
const { OTLPTraceExporter } = load('@opentelemetry/exporter-trace-otlp-http');
const { Client } = load('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = load('@modelcontextprotocol/sdk/client/streamableHttp.js');

const ORDER = 'otel-2';
const workspace = makeWorkspace('cairn-otel');
const policyConfig = path.join(workspace.dir, 'policies.json');
writeFileSync(
  policyConfig,
  `${JSON.stringify({
    policies: [
      {
        name: 'big-charges',
        tools: ['charge_payment'],
        when: { type: 'object', properties: { amount_cents: { minimum: 50000 } }, required: ['amount_cents'] },
        verdict: 'approve',
        approver: 'operator',
        reason: 'charges of 500.00 or more need an operator',
      },
    ],
  })}\n`,
);
const steps = new Steps({ logs: () => (node ? [node.output] : []) });
let node;

// --- the OTLP receiver -------------------------------------------------------

const hex = (v, n) => typeof v === 'string' && v.length === n && /^[0-9a-f]+$/.test(v);
const received = new Map(); // span id -> { service, span }
const malformed = [];

function take(body) {
  let doc;
  try {
    doc = JSON.parse(body);
  } catch {
    return 'not JSON (is the exporter sending protobuf?)';
  }
  if (!Array.isArray(doc.resourceSpans)) return 'no resourceSpans';
  for (const rs of doc.resourceSpans) {
    const attrs = rs.resource?.attributes ?? [];
    const service = attrs.find((a) => a.key === 'service.name')?.value?.stringValue;
    if (!service) return 'a resource without service.name';
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        if (!hex(s.traceId, 32) || !hex(s.spanId, 16)) return `ids are not hex: ${JSON.stringify(s)}`;
        if (s.parentSpanId && !hex(s.parentSpanId, 16)) return 'parentSpanId is not hex';
        if (!/^\d+$/.test(String(s.startTimeUnixNano)) || !/^\d+$/.test(String(s.endTimeUnixNano)))
          return 'times are not nanoseconds';
        if (BigInt(s.startTimeUnixNano) > BigInt(s.endTimeUnixNano)) return 'a span ends before it starts';
        received.set(s.spanId, { service, span: s });
      }
    }
  }
  return '';
}

const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      malformed.push(`${req.method} ${req.url}`);
      res.writeHead(404).end();
      return;
    }
    const why = take(body);
    if (why) malformed.push(why);
    res.writeHead(why ? 400 : 200, { 'Content-Type': 'application/json' }).end('{}');
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${receiver.address().port}`;

const attr = (span, key) => {
  const v = (span.attributes ?? []).find((a) => a.key === key)?.value;
  return v?.stringValue ?? v?.intValue ?? v?.boolValue;
};
const cairnSpans = () => [...received.values()].filter((r) => r.service === 'cairn').map((r) => r.span);

// --- the run -----------------------------------------------------------------

let traceId;
let agentSpanId;

try {
  await steps.run('a node exporting to the receiver, and an agent instrumented with @opentelemetry/sdk-node', async () => {
    node = new CairnHttpNode({
      cairn: options.cairn,
      dataDir: workspace.dataDir,
      configPath: policyConfig,
      profile: null,
      extraArgs: ['--otlp-endpoint', receiverUrl, '--flaky-rate', '0.5', '--log-level', 'warn'],
      verbose: options.verbose,
    });
    await node.start();
  });

  await steps.run('the agent decides, inside its span, to call place_order over MCP', async () => {
    const sdk = new NodeSDK({
      serviceName: 'test-agent',
      traceExporter: new OTLPTraceExporter({ url: `${receiverUrl}/v1/traces` }),
    });
    sdk.start();
    const tracer = otel.trace.getTracer('test-agent');
    await tracer.startActiveSpan('agent decides', async (span) => {
      traceId = span.spanContext().traceId;
      agentSpanId = span.spanContext().spanId;
      const carrier = {};
      otel.propagation.inject(otel.context.active(), carrier);
      check(hex(carrier.traceparent?.split('-')[1], 32), `the SDK's propagator gave no traceparent: ${JSON.stringify(carrier)}`);
      const client = new Client({ name: 'otel-agent', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(node.mcpUrl)));
      const result = await client.callTool({
        name: 'place_order',
        arguments: { order_id: ORDER, customer: 'c7', sku: 'sku-kettle', region: 'north', quantity: 1, amount_cents: 1900 },
        _meta: { traceparent: carrier.traceparent },
      });
      check(!result.isError, `place_order failed: ${JSON.stringify(result)}`);
      await client.close();
      span.end();
    });
    await sdk.shutdown(); // the agent's span goes to the receiver now
  });

  await steps.run('the receiver holds one trace: the agent span its only root, every hop below', async () => {
    await pollUntil(
      () => {
        const mine = cairnSpans().filter((s) => s.traceId === traceId);
        const done = mine.some((s) => attr(s, 'cairn.actor.id') === 'notify/c7') && mine.some((s) => attr(s, 'cairn.attempt') === '2');
        return { done, value: mine.length };
      },
      { timeoutMs: 30000, what: "cairn's spans of the order, retry and last hop included" },
    ).catch((error) => {
      const seen = [...received.values()].map((r) => `${r.span.traceId}/${r.span.parentSpanId ?? '-'}/${r.span.spanId} ${r.service}:${r.span.name}:${attr(r.span, 'cairn.actor.id') ?? ''}#${attr(r.span, 'cairn.attempt') ?? ''}`);
      throw new Error(`${error.message}\nreceived: ${seen.join(', ')}\nmalformed: ${malformed.join('; ')}`);
    });
    check(malformed.length === 0, `malformed exports: ${malformed.join('; ')}`);
    const all = [...received.values()].map((r) => r.span);
    const spans = all.filter((s) => s.traceId === traceId);
    check(spans.length === all.length, `spans of other traces arrived: ${all.length - spans.length}`);
    const ids = new Set(spans.map((s) => s.spanId));
    const roots = spans.filter((s) => !s.parentSpanId);
    check(roots.length === 1 && roots[0].spanId === agentSpanId && roots[0].name === 'agent decides',
      `the only root must be the agent's span, got ${JSON.stringify(roots.map((s) => s.name))}`);
    for (const s of spans)
      check(!s.parentSpanId || ids.has(s.parentSpanId), `span ${s.name} (${attr(s, 'cairn.actor.id')}) has a parent outside the trace`);
    const request = spans.filter((s) => s.name === 'tools/call place_order');
    check(request.length === 1 && request[0].parentSpanId === agentSpanId && request[0].kind === 2,
      "cairn's MCP request span must be a server span under the agent's");
    check(attr(request[0], 'gen_ai.tool.name') === 'place_order' && attr(request[0], 'mcp.method.name') === 'tools/call',
      'the request span names the tool and the method');
    const call = spans.filter((s) => String(attr(s, 'cairn.actor.id') ?? '').startsWith('tool.place_order/'));
    check(call.length >= 1 && call[0].parentSpanId === request[0].spanId, "the tool's call actor runs under the request's span");
    for (const actor of [`order/${ORDER}`, 'inventory/sku-kettle', `payment/${ORDER}`, 'dispatch/north', 'notify/c7'])
      check(spans.some((s) => attr(s, 'cairn.actor.id') === actor), `no span of ${actor}`);
    const payments = spans.filter((s) => attr(s, 'cairn.actor.id') === `payment/${ORDER}`);
    const first = payments.find((s) => attr(s, 'cairn.attempt') === '1');
    const second = payments.find((s) => attr(s, 'cairn.attempt') === '2');
    check(first && first.status?.code === 2, 'the first payment attempt failed (status error)');
    check(second && second.status?.code === 1, 'the second payment attempt succeeded');
    const link = (second.links ?? [])[0];
    check(link && link.spanId === first.spanId && link.traceId === traceId, 'the retry links the attempt before it');
  });

  const treeOf = async () => {
    const r = await fetch(`${node.baseUrl}/api/v1/traces/${traceId}`);
    check(r.status === 200, `GET /api/v1/traces/${traceId} answered ${r.status}`);
    return r.json();
  };
  const flatten = (tree) => {
    const out = [];
    const walk = (s, depth) => {
      out.push({ id: s.span_id, parent: s.parent_span_id, name: s.name, actor: s.actor ?? '', depth });
      for (const c of s.children) walk(c, depth + 1);
    };
    for (const r of tree.roots) walk(r, 0);
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  };
  let before;

  await steps.run('the node API gives the same tree, and cairn trace draws it', async () => {
    const exported = cairnSpans().filter((s) => s.traceId === traceId);
    const tree = await treeOf();
    before = flatten(tree);
    check(tree.span_count === exported.length, `the API has ${tree.span_count} spans, the receiver ${exported.length}`);
    check(tree.roots.length === 1 && tree.roots[0].parent_span_id === agentSpanId, "the API's root is the request span under the agent's");
    for (const s of exported) {
      const mine = before.find((x) => x.id === s.spanId);
      check(mine && mine.parent === (s.parentSpanId ?? ''), `span ${s.name} differs between the API and the export`);
    }
    const out = execFileSync(options.cairn, ['trace', traceId, '--node', node.baseUrl], { encoding: 'utf8' });
    check(out.includes('tools/call place_order') && out.includes(`payment/${ORDER}`) && out.includes('#2'),
      `cairn trace did not draw the request, the payment and its retry:\n${out}`);
  });

  await steps.run('after a SIGKILL and a restart, the same tree', async () => {
    await node.kill('SIGKILL');
    await node.start();
    const after = flatten(await treeOf());
    check(JSON.stringify(after) === JSON.stringify(before), 'the tree changed across the restart');
    const out = execFileSync(options.cairn, ['trace', traceId, '--node', node.baseUrl], { encoding: 'utf8' });
    check(out.includes('tools/call place_order') && out.includes('#2'), `cairn trace after the restart:\n${out}`);
  });

  // --- a plan as the tool, killed while it waits for approval ---------------

  let planTrace;
  let planAgentSpan;
  let planId;
  let pendingCall;
  let planClient;
  const planSdk = new NodeSDK({
    serviceName: 'test-agent',
    traceExporter: new OTLPTraceExporter({ url: `${receiverUrl}/v1/traces` }),
  });
  const apiJson = async (method, target, body) => {
    const r = await fetch(`${node.baseUrl}${target}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, json: await r.json().catch(() => undefined) };
  };

  await steps.run('plan: inside "agent plans", submit_plan runs reserve -> charge -> notify; charge waits for an operator', async () => {
    // The first agent's SDK was shut down: free the API's globals for this one.
    otel.trace.disable();
    otel.context.disable();
    otel.propagation.disable();
    planSdk.start();
    const tracer = otel.trace.getTracer('test-agent');
    const span = tracer.startSpan('agent plans');
    planTrace = span.spanContext().traceId;
    planAgentSpan = span;
    const carrier = {};
    otel.propagation.inject(otel.trace.setSpan(otel.context.active(), span), carrier);
    const client = new Client({ name: 'otel-planner', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(node.mcpUrl)));
    planClient = client;
    const order = 'otel-plan-1';
    // The call waits for the plan to end; the kill cuts it, so its promise
    // is kept and its rejection expected.
    pendingCall = client
      .callTool({
        name: 'submit_plan',
        arguments: {
          plan: {
            steps: [
              { id: 'reserve', tool: 'reserve_stock', arguments: { order_id: order, sku: 'A-1', qty: 1 } },
              { id: 'charge', tool: 'charge_payment', after: ['reserve'], arguments: { order_id: order, amount_cents: 75000, reservation_id: { $from: 'reserve', pointer: '/reservation_id' } } },
              { id: 'notify', tool: 'notify_customer', after: ['charge'], arguments: { order_id: order, message: 'on its way' } },
            ],
          },
        },
        _meta: { traceparent: carrier.traceparent },
      })
      .then(
        (result) => ({ result }),
        (error) => ({ error }),
      );
    const approval = await pollUntil(
      async () => {
        const r = await apiJson('GET', '/api/v1/approvals');
        const a = (r.json?.approvals ?? []).find((x) => x.state === 'pending' && x.step === 'charge');
        return { done: Boolean(a), value: a ?? r.json };
      },
      { timeoutMs: 30000, what: 'the charge awaiting approval' },
    );
    planId = approval.plan;
    // Kill by observed progress: once the plan's validation and the reserve
    // step are in the trace (written before the kill).
    await pollUntil(
      async () => {
        const r = await apiJson('GET', `/api/v1/traces/${planTrace}`);
        const names = [];
        const walk = (ss) => ss.forEach((x) => (names.push(x.name), walk(x.children)));
        if (r.status === 200) walk(r.json.roots);
        return { done: names.includes('plan validate') && names.some((n) => n.startsWith('policy approve')), value: names };
      },
      { timeoutMs: 20000, what: 'the plan validation and verdicts in the trace' },
    );
    return `${planId}, charge awaiting approval`;
  });

  await steps.run('plan: SIGKILL mid-plan, restart, the operator approves, the plan succeeds', async () => {
    await node.kill('SIGKILL');
    await planClient.close().catch(() => {});
    const cut = await pendingCall;
    check(cut.error, `submit_plan answered although the node was killed: ${JSON.stringify(cut.result)}`);
    await node.start();
    const approval = (await apiJson('GET', '/api/v1/approvals')).json.approvals.find((x) => x.plan === planId);
    check(approval?.state === 'pending', `after the restart the approval is ${approval?.state}`);
    const decided = await apiJson('POST', `/api/v1/approvals/${encodeURIComponent(approval.id)}`, {
      decision: 'approve',
      arguments_sha256: approval.arguments_sha256,
      comment: 'approved after the restart',
    });
    check(decided.status === 200 || decided.status === 202, `approving answered ${decided.status}: ${JSON.stringify(decided.json)}`);
    const plan = await pollUntil(
      async () => {
        const r = await apiJson('GET', `/api/v1/plans/${encodeURIComponent(planId)}`);
        return { done: r.json?.state === 'succeeded', value: r.json?.state };
      },
      { timeoutMs: 30000, what: 'the plan succeeded' },
    );
    planAgentSpan.end();
    await planSdk.shutdown();
    return `plan ${plan ? 'succeeded' : ''}`;
  });

  await steps.run('plan: one trace from the agent through validation, verdicts, the approval wait and every step; the resumed call linked', async () => {
    const spansOf = () => cairnSpans().filter((s) => s.traceId === planTrace);
    await pollUntil(
      () => {
        const mine = spansOf();
        const done =
          mine.some((s) => s.name === 'approval wait') &&
          mine.some((s) => String(attr(s, 'cairn.actor.id') ?? '').startsWith('tool.notify_customer/')) &&
          mine.some((s) => String(attr(s, 'cairn.actor.id') ?? '').startsWith('tool.submit_plan/') && attr(s, 'cairn.resumed') === true) &&
          received.has(planAgentSpan.spanContext().spanId);
        return {
          done,
          value: mine.map((s) => `${s.name} ${attr(s, 'cairn.actor.id') ?? ''} ${JSON.stringify((s.attributes ?? []).filter((a) => a.key === 'cairn.resumed'))}`),
        };
      },
      { timeoutMs: 30000, what: 'the plan trace exported, the approval wait, the last step and the resumed call included' },
    );
    check(malformed.length === 0, `malformed exports: ${malformed.join('; ')}`);
    const spans = [...received.values()].map((r) => r.span).filter((s) => s.traceId === planTrace);
    const ids = new Set(spans.map((s) => s.spanId));
    const roots = spans.filter((s) => !s.parentSpanId);
    check(roots.length === 1 && roots[0].name === 'agent plans', `roots: ${JSON.stringify(roots.map((s) => s.name))}`);
    const calls = spans.filter((s) => String(attr(s, 'cairn.actor.id') ?? '').startsWith('tool.submit_plan/'));
    check(calls.length >= 1, 'no span of the submit_plan call actor');
    const cutRequest = calls[0].parentSpanId;
    // The one span absent: the MCP request the kill cut.
    const orphans = spans.filter((s) => s.parentSpanId && !ids.has(s.parentSpanId));
    check(orphans.every((s) => s.parentSpanId === cutRequest), `spans with a parent outside the trace: ${orphans.map((s) => s.name).join(', ')}`);
    check(!ids.has(cutRequest), 'the cut request was recorded after all: the orphan check is moot');
    for (const name of ['plan validate', 'policy allow', 'policy approve', 'approval wait'])
      check(spans.some((s) => s.name === name), `no span "${name}" in ${JSON.stringify(spans.map((s) => s.name))}`);
    const wait = spans.find((s) => s.name === 'approval wait');
    check(attr(wait, 'cairn.approval.decision') === 'approve', `the approval wait says ${attr(wait, 'cairn.approval.decision')}`);
    for (const tool of ['reserve_stock', 'charge_payment', 'notify_customer']) {
      const step = spans.find((s) => String(attr(s, 'cairn.actor.id') ?? '').startsWith(`tool.${tool}/`) && s.name === 'process mcp.call/v1');
      check(step, `no step of ${tool}'s call`);
      check(attr(step, 'gen_ai.operation.name') === 'execute_tool' && attr(step, 'gen_ai.tool.name') === tool,
        `${tool}'s call step is not marked execute_tool: ${JSON.stringify(step.attributes)}`);
    }
    const resumed = calls.find((s) => attr(s, 'cairn.resumed') === true);
    const link = (resumed.links ?? []).find((l) => (l.attributes ?? []).some((a) => a.key === 'cairn.link.type' && a.value?.stringValue === 'resumed_from'));
    check(link && link.spanId === cutRequest && link.traceId === planTrace, `the resumed call's links: ${JSON.stringify(resumed.links)}`);
    const r = await apiJson('GET', `/api/v1/traces/${planTrace}`);
    const cairnCount = spans.filter((s) => received.get(s.spanId)?.service === 'cairn').length;
    check(r.json.span_count === cairnCount, `the API has ${r.json.span_count} spans, the receiver ${cairnCount}`);
    const out = execFileSync(options.cairn, ['trace', planTrace, '--node', node.baseUrl], { encoding: 'utf8' });
    check(out.includes('approval wait') && out.includes('plan validate') && out.includes('notify_customer'), `cairn trace:\n${out}`);
    return `${spans.length} spans, ${orphans.length} under the cut request`;
  });
} finally {
  await node?.stop();
  receiver.close();
}
process.exit(steps.finish());
