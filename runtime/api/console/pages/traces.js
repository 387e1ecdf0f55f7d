// SPDX-License-Identifier: Apache-2.0
// Traces: search recent traces; one trace as a waterfall (names, durations,
// gaps, errors, attempts) with the details of the span picked.

import { api, badge, fields, fill, h, link, micros, pretty, problemBox, query, seg, time } from '../ui.js';

export function render(main, id) {
  return id ? renderTrace(main, id) : renderSearch(main);
}

function renderSearch(main) {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const input = (name, placeholder, size = 16) => h('input', { name, placeholder, size, value: params.get(name) || '' });
  const since = h('select', { name: 'since' }, [
    h('option', { value: '15' }, 'last 15 min'),
    h('option', { value: '60' }, 'last hour'),
    h('option', { value: '1440' }, 'last day'),
  ]);
  const actor = input('actor', 'order/o17');
  const tool = input('tool', 'charge_payment');
  const plan = input('plan', 'plan/k…');
  const status = h('select', { name: 'status' }, ['', 'ok', 'error'].map((s) => h('option', { value: s }, s || 'any status')));
  status.value = params.get('status') || '';
  const minMs = input('min_duration_ms', '0', 6);
  const body = h('div');
  const search = async () => {
    fill(body, h('p.muted', 'Searching…'));
    try {
      const r = await api(
        `/api/v1/traces${query({
          since_ms: Date.now() - Number(since.value) * 60000,
          actor: actor.value.trim(),
          tool: tool.value.trim(),
          plan: plan.value.trim(),
          status: status.value,
          min_duration_ms: minMs.value.trim(),
          limit: 50,
        })}`,
      );
      fill(
        body,
        r.traces.length ? traceTable(r.traces) : h('p.muted', 'No trace matches.'),
        r.complete ? null : h('p.muted', 'Read budget reached: older traces in the window were not examined; narrow the window.'),
      );
    } catch (e) {
      fill(body, problemBox(e));
    }
  };
  const form = h(
    'form.filters',
    {
      onsubmit: (e) => {
        e.preventDefault();
        search();
      },
    },
    h('label', 'Since', since),
    h('label', 'Actor', actor),
    h('label', 'Tool', tool),
    h('label', 'Plan', plan),
    h('label', 'Status', status),
    h('label', 'Min ms', minMs),
    h('button', { type: 'submit' }, 'Search'),
  );
  fill(main, h('h1', 'Traces'), form, body);
  search();
}

export function traceTable(traces) {
  return h(
    'table#traces',
    h('thead', h('tr', ['Trace', 'Root', 'Root actor', 'Start', 'Duration', 'Spans', 'Errors'].map((t) => h('th', t)))),
    h(
      'tbody',
      traces.map((t) =>
        h(
          'tr.clickable',
          { 'data-trace': t.trace_id, onclick: () => (location.hash = `#/traces/${t.trace_id}`) },
          h('td', link(`/traces/${t.trace_id}`, h('code', t.trace_id))),
          h('td', t.root),
          h('td', t.root_actor ? h('code', t.root_actor) : ''),
          h('td', time(t.start_us / 1000)),
          h('td', micros(t.duration_us)),
          h('td', String(t.spans)),
          h('td', t.errors ? badge('error') : '0'),
        ),
      ),
    ),
  );
}

async function renderTrace(main, id) {
  fill(main, h('p', link('/traces', '← Traces')), h('h1', 'Trace ', h('code', id)));
  let tree;
  try {
    tree = await api(`/api/v1/traces/${seg(id)}`);
  } catch (e) {
    main.append(problemBox(e));
    return;
  }
  const rows = [];
  const walk = (spans, depth) => {
    for (const s of spans || []) {
      rows.push({ s, depth });
      walk(s.children, depth + 1);
    }
  };
  walk(tree.roots, 0);
  const total = Math.max(1, tree.duration_us);
  const details = h('div.card#span-details', h('p.muted', 'Pick a span to see its details.'));
  const pick = (row, el) => {
    for (const r of main.querySelectorAll('.waterfall .row.selected')) r.classList.remove('selected');
    el.classList.add('selected');
    const { children, attributes, links, sent, ...own } = row.s;
    fill(
      details,
      h('h2', row.s.name),
      fields(own),
      attributes && Object.keys(attributes).length ? [h('h2', 'Attributes'), fields(attributes)] : null,
      links?.length ? [h('h2', 'Links'), pretty(links)] : null,
      sent?.length ? [h('h2', 'Messages sent'), pretty(sent)] : null,
      row.s.actor ? h('p', link(`/actors/${seg(row.s.actor)}`, `Open actor ${row.s.actor}`)) : null,
    );
  };
  const waterfall = h(
    'div.waterfall#waterfall',
    rows.map((row) => {
      const s = row.s;
      const left = (100 * (s.offset_us || 0)) / total;
      const width = Math.max(0.2, (100 * s.duration_us) / total);
      const error = s.status === 'error';
      const el = h(
        'div.row',
        { 'data-span': s.span_id, 'data-status': s.status },
        h(
          'div.name',
          { style: { paddingLeft: `${6 + row.depth * 14}px` }, title: s.name },
          s.name,
          s.attempt > 1 ? h('span.muted', ` (attempt ${s.attempt})`) : null,
          error ? [' ', badge('error')] : null,
        ),
        h(
          'div.lane',
          h(`div.bar${error ? '.error' : ''}`, { style: { left: `${left.toFixed(3)}%`, width: `${width.toFixed(3)}%` } }),
          h('span.dur', { style: { left: `${Math.min(88, left + width + 0.5).toFixed(3)}%` } }, micros(s.duration_us)),
        ),
      );
      el.addEventListener('click', () => pick(row, el));
      return el;
    }),
  );
  main.append(
    h('p.muted', `${tree.span_count} spans · ${micros(tree.duration_us)} · started ${tree.start}`, tree.errors ? ` · ${tree.errors} with errors` : ''),
    waterfall,
    details,
  );
}
