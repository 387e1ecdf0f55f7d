// SPDX-License-Identifier: Apache-2.0
// Dead letters: filters; each one's payload, error and attempt times;
// redrive or discard one, or every one the filter matches (scope admin).

import { api, every, fill, h, link, pretty, problemBox, query, seg, time } from '../ui.js';

export function render(main) {
  const kind = h('input', { name: 'kind', placeholder: 'payment', size: 14 });
  const error = h('input', { name: 'error', placeholder: 'text in the error', size: 22 });
  const since = h('select', { name: 'since' }, [
    h('option', { value: '' }, 'any time'),
    h('option', { value: '15' }, 'last 15 min'),
    h('option', { value: '60' }, 'last hour'),
    h('option', { value: '1440' }, 'last day'),
  ]);
  const banner = h('div');
  const body = h('div');
  const detail = h('div');
  const filter = () => ({
    kind: kind.value.trim(),
    error: error.value.trim(),
    since: since.value ? Date.now() - Number(since.value) * 60000 : '',
  });
  const refresh = async () => {
    try {
      const page = await api(`/api/v1/dead-letters${query({ ...filter(), limit: 100 })}`);
      const rows = page.dead_letters;
      fill(
        body,
        rows.length
          ? h(
              'table#dead-letters',
              h('thead', h('tr', ['Id', 'To', 'Type', 'Error', 'Attempts', 'Failed'].map((t) => h('th', t)))),
              h(
                'tbody',
                rows.map((d) =>
                  h(
                    'tr.clickable',
                    { 'data-dead-letter': d.id, onclick: () => show(d.id) },
                    h('td', h('code', d.id.slice(0, 12) + '…')),
                    h('td', link(`/actors/${seg(d.to)}`, h('code', d.to))),
                    h('td', h('code', d.type)),
                    h('td', d.error),
                    h('td', String(d.attempts)),
                    h('td', time(d.failed_ms)),
                  ),
                ),
              ),
            )
          : h('p.muted', 'No dead letters match.'),
        page.next_cursor ? h('p.muted', 'Showing the first 100; narrow the filter to see others.') : null,
      );
    } catch (e) {
      fill(body, problemBox(e));
    }
  };
  const act = async (id, action) => {
    if (action === 'redrive') await api(`/api/v1/dead-letters/${seg(id)}/redrive`, { method: 'POST' });
    else await api(`/api/v1/dead-letters/${seg(id)}`, { method: 'DELETE' });
  };
  const show = async (id) => {
    try {
      const d = await api(`/api/v1/dead-letters/${seg(id)}`);
      const button = (action, cls, text) =>
        h(
          `button.${cls}`,
          {
            'data-action': action,
            onclick: async () => {
              try {
                await act(id, action);
                fill(banner, h('div.notice', `${action === 'redrive' ? 'Redriven' : 'Discarded'} ${id}`));
                fill(detail);
                refresh();
              } catch (e) {
                fill(banner, problemBox(e));
              }
            },
          },
          text,
        );
      fill(
        detail,
        h(
          'div.card#dead-letter',
          h('h2', 'Dead letter ', h('code', d.id)),
          h('p', h('strong', 'Error: '), d.error),
          h('p', `To `, link(`/actors/${seg(d.to)}`, h('code', d.to)), ` from `, h('code', d.from ?? '?'), ` · type `, h('code', d.type)),
          h('p', 'Attempts: ', (d.attempt_ms || []).map((t, i) => h('span.badge', `#${i + 1} ${time(t)}`)).reduce((a, b) => [a, ' ', b], [])),
          d.idempotency_key ? h('p.muted', `idempotency key ${d.idempotency_key}`) : null,
          d.trace_id ? h('p', link(`/traces/${d.trace_id}`, 'Open the trace')) : null,
          h('h2', 'Payload'),
          pretty(d.payload),
          h('div.actions', button('redrive', 'primary', 'Redrive'), button('discard', 'danger', 'Discard')),
        ),
      );
    } catch (e) {
      fill(detail, problemBox(e));
    }
  };
  const bulk = (action) => async () => {
    const what = action === 'redrive' ? 'Redrive' : 'Discard';
    if (!confirm(`${what} every dead letter this filter matches?`)) return;
    let done = 0;
    let cursor = '';
    const f = filter();
    try {
      for (;;) {
        const page = await api(`/api/v1/dead-letters${query({ ...f, limit: 100, cursor })}`);
        for (const d of page.dead_letters) {
          await act(d.id, action);
          done++;
          fill(banner, h('div.notice', `${what}: ${done} so far…`));
        }
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      fill(banner, h('div.notice', `${what}: ${done} dead letter${done === 1 ? '' : 's'}`));
    } catch (e) {
      fill(banner, problemBox(e), h('div.notice', `${what}: ${done} before the error`));
    }
    refresh();
  };
  const form = h(
    'form.filters',
    {
      onsubmit: (e) => {
        e.preventDefault();
        refresh();
      },
    },
    h('label', 'Kind', kind),
    h('label', 'Error contains', error),
    h('label', 'Failed', since),
    h('button', { type: 'submit' }, 'Filter'),
    h('button', { type: 'button', onclick: bulk('redrive'), id: 'redrive-all' }, 'Redrive all matching'),
    h('button.danger', { type: 'button', onclick: bulk('discard'), id: 'discard-all' }, 'Discard all matching'),
  );
  fill(main, h('h1', 'Dead letters'), form, banner, detail, body);
  return every(3000, refresh);
}
