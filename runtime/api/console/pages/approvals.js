// SPDX-License-Identifier: Apache-2.0
// The approvals inbox: pending approvals first, with tool, risk, rule and
// reason, the arguments readably, their hash and the time left; approve or
// deny with a comment (the token needs the `approve` scope).

import { ago, api, badge, every, fill, h, link, pretty, problemBox, seg, span, time } from '../ui.js';

export function render(main) {
  const pending = h('div#pending');
  const decided = h('div#decided');
  const banner = h('div'); // why the list could not be read
  const outcome = h('div'); // what the last decision did
  fill(main, h('h1', 'Approvals'), banner, outcome, h('h2', 'Waiting for a decision'), pending, h('h2', 'Decided'), decided);
  // Cards being written in are kept across refreshes (their comment too).
  const cards = new Map();
  const refresh = async () => {
    let list;
    try {
      ({ approvals: list } = await api('/api/v1/approvals'));
      fill(banner);
    } catch (error) {
      fill(banner, problemBox(error));
      return;
    }
    const open = list.filter((a) => a.state === 'pending').sort((a, b) => (a.expires_ms ?? 0) - (b.expires_ms ?? 0));
    const done = list
      .filter((a) => a.state !== 'pending')
      .sort((a, b) => (b.decided_ms ?? 0) - (a.decided_ms ?? 0))
      .slice(0, 50);
    const keep = new Set(open.map((a) => a.id));
    for (const id of cards.keys()) if (!keep.has(id)) cards.delete(id);
    fill(
      pending,
      open.length
        ? open.map((a) => {
            if (!cards.has(a.id)) cards.set(a.id, card(a, outcome, refresh));
            const c = cards.get(a.id);
            c.update(a);
            return c.el;
          })
        : h('p.muted', 'Nothing waits for a decision.'),
    );
    fill(
      decided,
      done.length
        ? h(
            'table',
            h('thead', h('tr', ['Step', 'Tool', 'Decision', 'By', 'Comment', 'When'].map((t) => h('th', t)))),
            h(
              'tbody',
              done.map((a) =>
                h(
                  'tr',
                  h('td', link(`/plans/${seg(a.plan)}`, h('code', a.id))),
                  h('td', a.tool),
                  h('td', badge(a.state)),
                  h('td', a.decided_by ?? a.by ?? ''),
                  h('td', a.comment ?? ''),
                  h('td', time(a.decided_ms ?? a.at_ms)),
                ),
              ),
            ),
          )
        : h('p.muted', 'None yet.'),
    );
  };
  return every(2000, refresh);
}

function card(a, outcome, refresh) {
  const comment = h('textarea', { placeholder: 'Comment (journaled with the decision)', 'aria-label': 'comment' });
  const left = h('span.muted');
  const decide = (decision) => async () => {
    for (const b of buttons) b.disabled = true;
    try {
      await api(`/api/v1/approvals/${seg(a.id)}`, {
        method: 'POST',
        body: { decision, arguments_sha256: a.arguments_sha256, comment: comment.value },
      });
      fill(outcome, h('div.notice', `${decision === 'approve' ? 'Approved' : 'Denied'} ${a.id}`));
    } catch (error) {
      fill(outcome, problemBox(error));
    }
    for (const b of buttons) b.disabled = false;
    refresh();
  };
  const buttons = [
    h('button.primary', { onclick: decide('approve'), 'data-action': 'approve' }, 'Approve'),
    h('button.danger', { onclick: decide('deny'), 'data-action': 'deny' }, 'Deny'),
  ];
  const args = h(
    'table.fields',
    h(
      'tbody',
      Object.entries(a.arguments || {}).map(([k, v]) =>
        h('tr', h('th', k), h('td', v !== null && typeof v === 'object' ? pretty(v) : h('code', JSON.stringify(v)))),
      ),
    ),
  );
  const el = h(
    'div.card.approval',
    { 'data-approval': a.id },
    h('h2', h('code', a.tool), ' ', badge(a.risk), ' in ', link(`/plans/${seg(a.plan)}`, h('code', a.plan)), ` step ${a.step}`),
    h('p', h('strong', `Rule ${a.rule}: `), a.reason ?? ''),
    args,
    h('p.mono', `arguments sha256 ${a.arguments_sha256}`),
    h('p', left, ` · requested ${ago(a.requested_ms ?? a.at_ms)} · approver ${a.approver ?? ''}`),
    comment,
    h('div.actions', buttons),
  );
  return {
    el,
    update(now) {
      const s = ((now.expires_ms ?? 0) - Date.now()) / 1000;
      fill(left, now.expires_ms ? (s > 0 ? `${span(s)} left` : 'expired') : 'no deadline');
    },
  };
}
