// Formatting numbers, durations and times for display.

export function ms(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  const a = Math.abs(v);
  if (a >= 60000) return (v / 60000).toFixed(1) + ' min';
  if (a >= 1000) return (v / 1000).toFixed(a >= 10000 ? 1 : 2) + ' s';
  if (a >= 100) return v.toFixed(0) + ' ms';
  if (a >= 10) return v.toFixed(1) + ' ms';
  if (a >= 1) return v.toFixed(2) + ' ms';
  if (a === 0) return '0 ms';
  return (v * 1000).toFixed(0) + ' µs';
}

export function pct(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return (v * 100).toFixed(digits) + ' %';
}

export function num(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return Number(v).toLocaleString('en-US');
}

export function usd(v) {
  if (!v) return '$0';
  if (v < 0.01) return '$' + v.toPrecision(2);
  return '$' + v.toFixed(2);
}

// time formats an RFC 3339 string or Unix milliseconds as local date and time.
export function time(v) {
  if (v === null || v === undefined || v === '') return '–';
  const d = typeof v === 'number' ? new Date(v) : new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// shortID abbreviates a hex ID for tables.
export function shortID(id) {
  return id && id.length > 12 ? id.slice(0, 12) + '…' : (id || '');
}

// attrValue renders a typed attribute value ({k, t, v}) as text.
export function attrValue(a) {
  if (a === null || a === undefined) return '';
  const v = a.v;
  if (Array.isArray(v)) return '[' + v.map(x => String(x)).join(', ') + ']';
  if (v === null || v === undefined) return '';
  return String(v);
}
