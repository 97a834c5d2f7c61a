// The JSON API client: one place that knows URLs, errors and sign-in.

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let loginWaiters = null;

// getJSON fetches path (with params, an object of query parameters; empty
// values are left out) and returns the decoded body. A 401 asks for the
// access token once and retries.
export async function getJSON(path, params) {
  const url = withParams(path, params);
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, { headers: { 'Accept': 'application/json' } });
    if (res.status === 401 && attempt === 0) {
      await signIn();
      continue;
    }
    return decode(res);
  }
}

export function withParams(path, params) {
  const q = new URLSearchParams();
  if (params) {
    for (const [k, v] of Object.entries(params)) {
      if (v === undefined || v === null || v === '') continue;
      if (Array.isArray(v)) v.forEach(x => q.append(k, x));
      else q.append(k, String(v));
    }
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

async function decode(res) {
  let body = null;
  const text = await res.text();
  if (text) {
    try { body = JSON.parse(text); } catch (_) { body = null; }
  }
  if (!res.ok) {
    const msg = body && body.error ? body.error : `${res.status} ${res.statusText}`;
    throw new APIError(res.status, msg);
  }
  return body;
}

// signIn shows the token dialog and resolves once the server accepted a
// token (it then keeps a session cookie, which EventSource sends too).
export function signIn() {
  if (loginWaiters) return new Promise(r => loginWaiters.push(r));
  loginWaiters = [];
  const dlg = document.getElementById('login');
  const form = document.getElementById('login-form');
  const input = document.getElementById('login-token');
  const err = document.getElementById('login-error');
  return new Promise(resolve => {
    loginWaiters.push(resolve);
    const onSubmit = async (ev) => {
      ev.preventDefault();
      err.hidden = true;
      const res = await fetch('/api/session', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: input.value }),
      });
      if (!res.ok) {
        let m = 'wrong token';
        try { m = (await res.json()).error || m; } catch (_) { /* keep default */ }
        err.textContent = m;
        err.hidden = false;
        return;
      }
      form.removeEventListener('submit', onSubmit);
      input.value = '';
      dlg.close();
      const ws = loginWaiters;
      loginWaiters = null;
      ws.forEach(w => w());
    };
    form.addEventListener('submit', onSubmit);
    dlg.showModal();
  });
}
