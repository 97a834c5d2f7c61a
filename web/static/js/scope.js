// The dashboard's scope: the service every view is filtered by and the time
// window. Both live in the URL (the hash's service, range or from/to
// parameters), so a view can be bookmarked, shared and reloaded; app.js
// sets them on every route.

let service = '';

export function setService(s) { service = s || ''; }

// currentService is the chosen service, '' for all.
export function currentService() { return service; }

// withService adds the chosen service to API parameters (unless they name
// one already).
export function withService(params) {
  const p = { ...(params || {}) };
  if (service && !('service' in p)) p.service = service;
  return p;
}

// The time window of the URL: {range} (a preset such as 1h) or {from, to}
// (Unix milliseconds); app.js sets it on every route.
let win = {};
const windowKeys = ['range', 'from', 'to'];

export function setWindowParams(w) { win = w || {}; }

// hashFor builds an in-page link that keeps the chosen service and time
// window (unless params name them; an empty value clears one).
export function hashFor(page, arg, params) {
  let h = '#/' + page + (arg ? '/' + encodeURIComponent(arg) : '');
  const q = new URLSearchParams();
  const own = params || {};
  const keepWin = !windowKeys.some(k => k in own);
  for (const [k, v] of Object.entries({ ...(keepWin ? win : {}), ...withService(params) })) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const qs = q.toString();
  return qs ? h + '?' + qs : h;
}
