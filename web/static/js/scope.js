// The dashboard's scope: the service every view is filtered by. It lives in
// the URL (the hash's service parameter), so a filtered view can be
// bookmarked, shared and reloaded; app.js sets it on every route.

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

// hashFor builds an in-page link that keeps the chosen service.
export function hashFor(page, arg, params) {
  let h = '#/' + page + (arg ? '/' + encodeURIComponent(arg) : '');
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(withService(params))) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const qs = q.toString();
  return qs ? h + '?' + qs : h;
}
