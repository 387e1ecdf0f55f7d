// SPDX-License-Identifier: Apache-2.0
// Plans: the list with a state filter; one plan's step graph with each
// step's state, risk, verdict, attempts, timing and result; cancel.

import {
  api, badge, every, fill, h, link, micros, pretty, problemBox, query, seg, time,
} from '../ui.js';

const STATES = ['', 'running', 'compensating', 'succeeded', 'failed', 'compensated', 'compensation_failed', 'cancelled', 'rejected'];
const FINAL = new Set(['succeeded', 'failed', 'compensated', 'compensation_failed', 'cancelled', 'rejected']);

export function render(main, id) {
  return id ? renderPlan(main, id) : renderList(main);
}

function renderList(main) {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const status = h('select', { name: 'status' }, STATES.map((s) => h('option', { value: s }, s || 'any state')));
  status.value = params.get('status') || '';
  const body = h('div');
  const form = h(
    'form.filters',
    { onsubmit: (e) => e.preventDefault() },
    h('label', 'State', status),
  );
  status.addEventListener('change', () => refresh());
  fill(main, h('h1', 'Plans'), form, body);
  const refresh = async () => {
    try {
      const { plans } = await api(`/api/v1/plans${query({ status: status.value, limit: 100 })}`);
      fill(body, plans.length ? planTable(plans) : h('p.muted', 'No plans yet.'));
    } catch (error) {
      fill(body, problemBox(error));
    }
  };
  return every(2000, refresh);
}

function planTable(plans) {
  return h(
    'table#plans',
    h('thead', h('tr', ['Plan', 'State', 'Caller', 'Submitted', 'Risk', 'Cost', 'Steps done'].map((t) => h('th', t)))),
    h(
      'tbody',
      plans.map((p) =>
        h(
          'tr.clickable',
          { 'data-plan': p.id, onclick: () => (location.hash = `#/plans/${seg(p.id)}`) },
          h('td', link(`/plans/${seg(p.id)}`, h('code', p.id))),
          h('td', badge(p.state)),
          h('td', p.caller ?? ''),
          h('td', time(p.submitted_ms)),
          h('td', badge(p.risk)),
          h('td', String(p.cost ?? '')),
          h('td', `${(p.completed || []).length} / ${(p.order || []).length}`),
        ),
      ),
    ),
  );
}

function traceIdOf(traceparent) {
  const m = /^00-([0-9a-f]{32})-/.exec(traceparent || '');
  return m ? m[1] : '';
}

// Attempts per call actor, from the plan's trace: a step span per attempt.
function attemptsByActor(tree) {
  const out = {};
  const walk = (spans) => {
    for (const s of spans || []) {
      if (s.actor && s.attempt) out[s.actor] = Math.max(out[s.actor] || 0, s.attempt);
      walk(s.children);
    }
  };
  walk(tree?.roots);
  return out;
}

function renderPlan(main, id) {
  const head = h('div');
  const graph = h('div');
  const steps = h('div');
  const banner = h('div'); // why the plan could not be read
  const outcome = h('div'); // what cancelling did
  fill(main, h('p', link('/plans', '← Plans')), banner, outcome, head, graph, steps);
  let lastVersion = null;
  let attempts = {};
  const refresh = async () => {
    let plan;
    try {
      plan = await api(`/api/v1/plans/${seg(id)}`);
    } catch (error) {
      fill(banner, problemBox(error));
      return;
    }
    const version = `${plan.updated_ms}:${plan.state}`;
    if (version === lastVersion) return;
    lastVersion = version;
    const traceId = traceIdOf(plan.traceparent);
    if (traceId) {
      try {
        attempts = attemptsByActor(await api(`/api/v1/traces/${traceId}`));
      } catch {
        // The trace's spans may not be written yet: attempts stay as they were.
      }
    }
    fill(banner);
    const cancel = h(
      'button.danger',
      {
        id: 'cancel-plan',
        disabled: FINAL.has(plan.state) || plan.state === 'compensating',
        onclick: async () => {
          const reason = prompt('Why cancel this plan? (journaled)') ?? null;
          if (reason === null) return;
          try {
            await api(`/api/v1/plans/${seg(id)}/cancel`, { method: 'POST', body: { reason } });
            lastVersion = null;
            refresh();
          } catch (error) {
            fill(outcome, problemBox(error));
          }
        },
      },
      'Cancel plan',
    );
    fill(
      head,
      h('h1', 'Plan ', h('code', plan.id), ' ', h('span#plan-state', badge(plan.state))),
      h(
        'p.muted',
        `submitted ${time(plan.submitted_ms)} by ${plan.caller ?? '?'} · risk ${plan.risk} · cost ${plan.cost} · depth ${plan.depth} · width ${plan.width}`,
        plan.cause ? ` · ${plan.cause}` : '',
      ),
      h('div.actions', cancel, traceId ? link(`/traces/${traceId}`, 'Open the trace') : null),
    );
    fill(graph, stepGraph(plan));
    fill(steps, h('h2', 'Steps'), stepTable(plan, attempts));
  };
  return every(1500, refresh);
}

// The steps as a left-to-right graph: a column per dependency level.
function stepGraph(plan) {
  const NS = 'http://www.w3.org/2000/svg';
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const names = plan.order || Object.keys(plan.steps || {});
  const level = {};
  const levelOf = (n, seen = new Set()) => {
    if (level[n] !== undefined) return level[n];
    if (seen.has(n)) return 0;
    seen.add(n);
    const after = plan.steps[n]?.after || [];
    level[n] = after.length ? 1 + Math.max(...after.map((a) => levelOf(a, seen))) : 0;
    return level[n];
  };
  names.forEach((n) => levelOf(n));
  const columns = [];
  for (const n of names) (columns[level[n]] ||= []).push(n);
  const W = 200, H = 48, GX = 50, GY = 16, PAD = 10;
  const pos = {};
  columns.forEach((col, c) => col.forEach((n, r) => (pos[n] = { x: PAD + c * (W + GX), y: PAD + r * (H + GY) })));
  const width = PAD * 2 + columns.length * (W + GX) - GX;
  const height = PAD * 2 + Math.max(...columns.map((c) => c.length)) * (H + GY) - GY;
  const root = el('svg', { class: 'graph', id: 'step-graph', width, height, viewBox: `0 0 ${width} ${height}` });
  for (const n of names)
    for (const a of plan.steps[n]?.after || []) {
      if (!pos[a]) continue;
      const x1 = pos[a].x + W, y1 = pos[a].y + H / 2, x2 = pos[n].x, y2 = pos[n].y + H / 2;
      root.append(el('path', { d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}` }));
    }
  for (const n of names) {
    const s = plan.steps[n] || {};
    const g = el('g', { class: `g-${String(s.state || 'pending').replace(/[^a-z_]/g, '')}`, 'data-step': n });
    g.append(el('rect', { x: pos[n].x, y: pos[n].y, width: W, height: H }));
    g.append(el('text', { x: pos[n].x + 8, y: pos[n].y + 17 }, `${n} · ${s.tool || ''}`));
    g.append(el('text', { x: pos[n].x + 8, y: pos[n].y + 35 }, `${s.state || 'pending'} · ${s.risk || ''} · ${s.verdict || ''}`));
    root.append(g);
  }
  return root;
}

function stepTable(plan, attempts) {
  const names = plan.order || Object.keys(plan.steps || {});
  return h(
    'table#steps',
    h('thead', h('tr', ['Step', 'Tool', 'State', 'Risk', 'Verdict', 'Attempts', 'Timing', 'Result'].map((t) => h('th', t)))),
    h(
      'tbody',
      names.map((n) => {
        const s = plan.steps[n] || {};
        const took = s.started_ms && s.ended_ms ? micros((s.ended_ms - s.started_ms) * 1000) : '';
        return h(
          'tr',
          { 'data-step': n },
          h('td', h('strong', n), s.after?.length ? h('div.muted', `after ${s.after.join(', ')}`) : null),
          h('td', s.call_id ? link(`/actors/${seg(s.call_id)}`, s.tool) : s.tool),
          h('td', badge(s.state || 'pending')),
          h('td', badge(s.risk)),
          h('td', badge(s.verdict), h('div.muted', s.rule || ''), h('div.muted', s.reason || '')),
          h('td', String(attempts[s.call_id] ?? (s.started_ms ? '—' : ''))),
          h('td', s.started_ms ? time(s.started_ms) : '', took ? h('div.muted', took) : null),
          h('td', s.result !== undefined ? pretty(s.output ?? s.result) : s.error ? pretty(s.error) : ''),
        );
      }),
    ),
  );
}
