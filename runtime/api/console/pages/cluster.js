// SPDX-License-Identifier: Apache-2.0
// Cluster: members, shards and outboxes, as this node sees them.

import { api, badge, every, fields, fill, h, pretty, problemBox } from '../ui.js';

export function render(main) {
  const body = h('div');
  fill(main, h('h1', 'Cluster'), body);
  return every(3000, async () => {
    let c;
    try {
      c = await api('/api/v1/cluster');
    } catch (e) {
      fill(body, e.code === 'not_clustered' ? h('p.muted', e.message) : problemBox(e));
      return;
    }
    const { members, ...rest } = c;
    const list = Array.isArray(members) ? members : [];
    const columns = [...new Set(list.flatMap((m) => Object.keys(m)))];
    fill(
      body,
      fields(Object.fromEntries(Object.entries(rest).filter(([, v]) => v === null || typeof v !== 'object'))),
      h('h2', 'Members'),
      list.length
        ? h(
            'table#members',
            h('thead', h('tr', columns.map((k) => h('th', k)))),
            h(
              'tbody',
              list.map((m) =>
                h(
                  'tr',
                  columns.map((k) => {
                    const v = m[k];
                    if (k === 'state' || k === 'status') return h('td', badge(v));
                    return h('td', v !== null && typeof v === 'object' ? pretty(v) : String(v ?? ''));
                  }),
                ),
              ),
            ),
          )
        : h('p.muted', 'No member listed.'),
      Object.entries(rest)
        .filter(([, v]) => v !== null && typeof v === 'object')
        .map(([k, v]) => [h('h2', k), pretty(v)]),
    );
  });
}
