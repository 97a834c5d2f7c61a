// Building DOM nodes without HTML parsing. Every string that reaches the
// page through here becomes a text node, so span names and attributes from
// traced pipelines can never turn into markup or script.

// el(tag, props, ...children): props may hold class, text, title, href, id,
// dataset (object), attrs (object of plain attributes), on (object of event
// listeners) and style (object of CSS properties). Children are nodes,
// strings (made text nodes), arrays of those, or null/undefined (skipped).
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null) continue;
      switch (k) {
        case 'class': node.className = v; break;
        case 'text': node.textContent = String(v); break;
        case 'dataset': Object.assign(node.dataset, v); break;
        case 'style': for (const [p, x] of Object.entries(v)) node.style.setProperty(p, x); break;
        case 'on': for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn); break;
        case 'attrs': for (const [a, x] of Object.entries(v)) if (x !== undefined && x !== null && x !== false) node.setAttribute(a, String(x)); break;
        case 'href': node.setAttribute('href', safeHref(v)); break;
        case 'innerHTML': case 'outerHTML': throw new Error('el: ' + k + ' is not allowed');
        default: node[k] = v;
      }
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else if (c instanceof Node) node.appendChild(c);
    else node.appendChild(document.createTextNode(String(c)));
  }
}

// safeHref keeps in-page, same-origin and http(s) links and neutralises
// anything else (javascript:, data:, ...).
export function safeHref(v) {
  const s = String(v);
  if (s.startsWith('#') || s.startsWith('/')) return s;
  try {
    const u = new URL(s, location.href);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
  } catch (_) { /* fall through */ }
  return '#';
}

// clear removes every child of node.
export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// table builds a table from column definitions {label, value(row) -> node|string, class}.
export function table(columns, rows, opts = {}) {
  const head = el('tr', null, columns.map(c => el('th', { class: c.class, text: c.label, title: c.title })));
  const body = rows.map((r, i) => {
    const tr = el('tr', { class: opts.rowClass ? opts.rowClass(r) : undefined },
      columns.map(c => el('td', { class: c.class }, c.value(r, i))));
    if (opts.onRow) {
      tr.classList.add('clickable');
      tr.addEventListener('click', (ev) => { if (!ev.target.closest('a')) opts.onRow(r, tr); });
    }
    if (opts.rowData) Object.assign(tr.dataset, opts.rowData(r));
    return tr;
  });
  return el('table', { class: 'grid ' + (opts.class || '') }, el('thead', null, head), el('tbody', null, body));
}

// section wraps content under a heading.
export function section(title, ...children) {
  return el('section', { class: 'card' }, el('h2', { text: title }), ...children);
}

// message shows an informative or error line.
export function message(text, kind = 'info') {
  return el('p', { class: 'msg ' + kind, text });
}
