// SPDX-License-Identifier: Apache-2.0
// Tools: every MCP tool with its contract (schemas, annotations, risk,
// cost, compensation) and its recent calls (from the traces).

import { api, badge, fill, h, link, pretty, problemBox, query, seg } from '../ui.js';
import { traceTable } from './traces.js';

export async function render(main, name) {
  let tools;
  try {
    ({ tools } = await api('/api/v1/tools'));
  } catch (e) {
    fill(main, h('h1', 'Tools'), problemBox(e));
    return;
  }
  if (name) return renderTool(main, tools.find((t) => t.name === name), name);
  const hints = (t) =>
    Object.entries(t.annotations || {})
      .filter(([k, v]) => k.endsWith('Hint') && v)
      .map(([k]) => h('span.badge', k.replace(/Hint$/, '')));
  fill(
    main,
    h('h1', 'Tools'),
    h(
      'table#tools',
      h('thead', h('tr', ['Tool', 'Description', 'Risk', 'Cost', 'Hints', 'Undo'].map((t) => h('th', t)))),
      h(
        'tbody',
        tools.map((t) =>
          h(
            'tr.clickable',
            { 'data-tool': t.name, onclick: () => (location.hash = `#/tools/${seg(t.name)}`) },
            h('td', link(`/tools/${seg(t.name)}`, h('code', t.name))),
            h('td', t.description ?? ''),
            h('td', badge(t._meta?.['io.cairn/risk'])),
            h('td', String(t._meta?.['io.cairn/cost'] ?? '')),
            h('td', hints(t)),
            h('td', t.compensation?.tool ? h('code', t.compensation.tool) : ''),
          ),
        ),
      ),
    ),
  );
}

async function renderTool(main, t, name) {
  fill(main, h('p', link('/tools', '← Tools')), h('h1', 'Tool ', h('code', name)));
  if (!t) {
    main.append(problemBox(`this node has no tool ${name}`));
    return;
  }
  const calls = h('div', h('p.muted', 'Loading…'));
  main.append(
    h('p', t.description ?? ''),
    h(
      'p',
      'Risk ',
      badge(t._meta?.['io.cairn/risk']),
      ` · cost ${t._meta?.['io.cairn/cost'] ?? 1} · up to ${t.max_attempts} attempts`,
      t.execution?.taskSupport ? ` · tasks ${t.execution.taskSupport}` : '',
    ),
    h('h2', 'Input schema'),
    pretty(t.inputSchema),
    t.outputSchema ? [h('h2', 'Output schema'), pretty(t.outputSchema)] : null,
    t.annotations ? [h('h2', 'Annotations'), pretty(t.annotations)] : null,
    h('h2', 'Compensation'),
    t.compensation?.tool ? pretty(t.compensation) : h('p.muted', 'Nothing to undo.'),
    h('h2', 'Recent calls (last hour)'),
    calls,
  );
  try {
    const r = await api(`/api/v1/traces${query({ tool: name, since_ms: Date.now() - 3600000, limit: 20 })}`);
    fill(calls, r.traces.length ? traceTable(r.traces) : h('p.muted', 'No call in the last hour.'));
  } catch (e) {
    fill(calls, problemBox(e));
  }
}
