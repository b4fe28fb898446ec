// Home: the live streams (vilokanam_liveStreams), searchable (vilokanam_searchStreams) and
// filtered by category, refreshed at every new block.

import { pageUrl } from '../lib/config.js';
import { byId, errorText, h, setStatus } from '../lib/dom.js';
import { formatBalance, formatUnits, shortAddress, tokenSymbol } from '../lib/format.js';
import { loadCategories, startPage } from '../lib/page.js';

const { chain } = await startPage();
const form = byId('search-form');
const search = byId('search');
const categorySelect = byId('category');
const list = byId('streams');
const status = byId('results-status');

let categories = await loadCategories(chain);
for (const [id, name] of categories) categorySelect.append(h('option', { value: String(id) }, name));

// Restore the query from the URL so searches can be shared.
const params = new URLSearchParams(window.location.search);
search.value = params.get('q') ?? '';
categorySelect.value = params.get('category') ?? '';

function card(s) {
  const price = BigInt(s.pricePerSecond);
  const url = pageUrl('/stream.html', { id: s.id });
  const category = categories.get(s.category) ?? `category ${s.category}`;
  return h('li', { class: 'stream-card', dataset: { streamId: String(s.id) } },
    h('article', { 'aria-labelledby': `stream-title-${s.id}` },
      h('h2', { id: `stream-title-${s.id}` }, h('a', { href: url }, s.title)),
      h('p', { class: 'badges' },
        h('span', { class: 'badge live' }, s.status === 'Live' ? 'LIVE' : s.status),
        ' ',
        h('span', { class: 'badge', dataset: { category: String(s.category) } }, category)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Price'),
        h('dd', { class: 'price', dataset: { plancks: price.toString() } },
          `${formatBalance(price)} / s`, h('span', { class: 'hint' }, ` (${formatUnits(price * 60n)} ${tokenSymbol()} / min)`)),
        h('dt', {}, 'Viewers'),
        h('dd', { class: 'viewers' }, String(s.currentViewers)),
        h('dt', {}, 'Creator'),
        h('dd', { title: s.creator }, shortAddress(s.creator))),
      s.tags.length ? h('p', { class: 'tags' }, s.tags.map((t) => h('span', { class: 'tag' }, `#${t}`))) : null,
      h('p', {}, h('a', { class: 'button', href: url, 'aria-label': `Watch ${s.title}` }, 'Watch'))));
}

/**
 * Updates the list in place (cards are kept while their stream is unchanged, only the viewer
 * count moves), so a refresh at every block does not steal the keyboard focus.
 */
function render(streams) {
  const existing = new Map([...list.children].map((li) => [li.dataset.streamId, li]));
  const items = streams.map((s) => {
    const sig = JSON.stringify([s.title, s.category, s.pricePerSecond, s.tags, s.status, categories.get(s.category)]);
    let li = existing.get(String(s.id));
    if (li && li.dataset.sig === sig) {
      li.querySelector('.viewers').textContent = String(s.currentViewers);
    } else {
      li = card(s);
      li.dataset.sig = sig;
    }
    return li;
  });
  items.forEach((li, i) => {
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
  });
  while (list.children.length > items.length) list.lastElementChild.remove();
}

let generation = 0;
async function refresh() {
  const mine = ++generation;
  const query = search.value.trim();
  const category = categorySelect.value === '' ? null : Number(categorySelect.value);
  try {
    let streams;
    if (query) {
      streams = (await chain.searchStreams(query)).filter((s) => s.status === 'Live');
      if (category !== null) streams = streams.filter((s) => s.category === category);
    } else {
      streams = await chain.liveStreams(category);
    }
    if (mine !== generation) return;
    render(streams);
    const what = query ? `matching “${query}”` : 'live now';
    setStatus(status, streams.length
      ? `${streams.length} stream${streams.length === 1 ? '' : 's'} ${what}.`
      : `No stream ${what}${category !== null ? ' in this category' : ''}.`, 'ok');
    document.body.dataset.results = String(streams.length);
  } catch (e) {
    if (mine !== generation) return;
    setStatus(status, `Cannot list streams: ${errorText(e)}`, 'error');
  }
}

function updateUrl() {
  const url = new URL(window.location.href);
  if (search.value.trim()) url.searchParams.set('q', search.value.trim());
  else url.searchParams.delete('q');
  if (categorySelect.value) url.searchParams.set('category', categorySelect.value);
  else url.searchParams.delete('category');
  history.replaceState(null, '', url);
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  updateUrl();
  refresh();
});
categorySelect.addEventListener('change', () => {
  updateUrl();
  refresh();
});
byId('clear-search').addEventListener('click', () => {
  search.value = '';
  categorySelect.value = '';
  updateUrl();
  refresh();
});

await refresh();
// New blocks change viewers and the live set; categories rarely change.
let lastCategories = 0;
await chain.subscribeHeads(async (n) => {
  if (n - lastCategories >= 10) {
    lastCategories = n;
    const fresh = await loadCategories(chain);
    if (fresh.size !== categories.size) {
      categories = fresh;
      const selected = categorySelect.value;
      categorySelect.replaceChildren(h('option', { value: '' }, 'All categories'),
        ...[...categories].map(([id, name]) => h('option', { value: String(id) }, name)));
      categorySelect.value = selected;
    }
  }
  refresh();
});
document.body.dataset.pageReady = 'true';
