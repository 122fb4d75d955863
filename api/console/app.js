// hookd console: a single page over the /v1 API, with the caller's token.
// Preact renders every value as text (never as HTML), so payloads,
// headers and response bodies cannot inject markup. The token lives in
// sessionStorage (this tab only); a portal URL carries it once in its
// fragment (#portal=...), which is read and stripped at load.
import { h, render } from './vendor/preact.module.js';
import { useState, useEffect, useCallback } from './vendor/hooks.module.js';
import htm from './vendor/htm.module.js';

const html = htm.bind(h);
const TOKEN_KEY = 'hookd.token';

// --- token and API ---------------------------------------------------------

(function takePortalToken() {
  const m = /^#portal=([A-Za-z0-9._-]+)$/.exec(location.hash);
  if (m) sessionStorage.setItem(TOKEN_KEY, m[1]);
  if (location.hash) history.replaceState(null, '', location.pathname);
})();

let token = sessionStorage.getItem(TOKEN_KEY) || '';

class APIError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (token) headers['Authorization'] = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  if (r.status === 204) return null;
  let data = null;
  try { data = await r.json(); } catch (e) { /* not JSON */ }
  if (!r.ok) {
    const detail = data && (data.detail || data.title) || ('HTTP ' + r.status);
    throw new APIError(r.status, r.status + ' ' + detail);
  }
  return data;
}

const enc = encodeURIComponent;
function query(params) {
  const q = Object.entries(params).filter(([, v]) => v !== '' && v != null).map(([k, v]) => enc(k) + '=' + enc(v));
  return q.length ? '?' + q.join('&') : '';
}
function when(t) { return t ? t.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—'; }
function toISO(local) { return local ? new Date(local).toISOString() : ''; }

// --- small pieces ----------------------------------------------------------

const Badge = ({ s }) => html`<span class=${'badge s-' + s} data-status=${s}>${s}</span>`;
const Err = ({ e }) => e ? html`<div class="err" role="alert">${String(e.message || e)}</div>` : null;

// useAsync runs f when deps change; reload() runs it again.
function useAsync(f, deps) {
  const [state, set] = useState({ loading: true });
  const [n, bump] = useState(0);
  useEffect(() => {
    let live = true;
    set(s => ({ ...s, loading: true }));
    f().then(v => live && set({ value: v }), e => live && set({ error: e }));
    return () => { live = false; };
  }, [...deps, n]);
  return [state, () => bump(x => x + 1)];
}

// Action is a button that runs an async operation and shows its failure.
function Action({ label, run, cls, id, confirm }) {
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState(null);
  const [armed, setArmed] = useState(false);
  const go = async () => {
    if (confirm && !armed) { setArmed(true); return; }
    setBusy(true); setErr(null);
    try { await run(); } catch (e) { setErr(e); } finally { setBusy(false); setArmed(false); }
  };
  return html`<span><button class=${cls || ''} id=${id} disabled=${busy} onClick=${go}>${armed ? 'Confirm ' + label.toLowerCase() : label}</button>${err && html` <span class="err" role="alert">${err.message}</span>`}</span>`;
}

// --- login -----------------------------------------------------------------

function Login({ onToken, error }) {
  const [v, setV] = useState('');
  const submit = e => { e.preventDefault(); onToken(v.trim()); };
  return html`<div class="login card">
    <h2>hookd console</h2>
    <p class="muted">Paste a bearer token (a JWT or an API key). It is kept in this tab only and sent to this server's /v1 API.</p>
    <${Err} e=${error} />
    <form onSubmit=${submit}>
      <textarea id="token" autocomplete="off" spellcheck="false" value=${v} onInput=${e => setV(e.target.value)} placeholder="token"></textarea>
      <p><button class="primary" id="signin" type="submit">Sign in</button></p>
    </form></div>`;
}

// --- webhooks --------------------------------------------------------------

function WebhookForm({ initial, onDone, onCancel }) {
  const w = initial || {};
  const [f, setF] = useState({
    url: w.url || '', description: w.description || '', events: (w.events || []).join(', '),
    maxBatchSize: w.maxBatchSize || 1, maxBatchTimeDelay: w.maxBatchTimeDelay || 0, isActive: w.isActive !== false,
  });
  const [err, setErr] = useState(null);
  const set = k => e => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const submit = async e => {
    e.preventDefault(); setErr(null);
    const body = { url: f.url, description: f.description, isActive: f.isActive,
      events: f.events.split(',').map(s => s.trim()).filter(Boolean),
      maxBatchSize: Number(f.maxBatchSize), maxBatchTimeDelay: Number(f.maxBatchTimeDelay) };
    try {
      const out = w.id ? await api('PUT', '/v1/webhooks/' + enc(w.id), body) : await api('POST', '/v1/webhooks', body);
      onDone(out);
    } catch (x) { setErr(x); }
  };
  return html`<form class="card" id="webhook-form" onSubmit=${submit}>
    <h3>${w.id ? 'Edit webhook' : 'New webhook'}</h3>
    <div class="row">
      <label style="flex:2">URL<input id="wh-url" required value=${f.url} onInput=${set('url')} placeholder="https://example.com/hook" /></label>
      <label style="flex:1">Description<input id="wh-description" value=${f.description} onInput=${set('description')} /></label>
    </div>
    <div class="row" style="margin-top:8px">
      <label style="flex:2">Events (comma-separated; empty: all)<input id="wh-events" value=${f.events} onInput=${set('events')} placeholder="order.created, order.paid" /></label>
      <label>Max batch size<input id="wh-batch" type="number" min="1" max="1000" value=${f.maxBatchSize} onInput=${set('maxBatchSize')} /></label>
      <label>Max batch delay (ms)<input id="wh-delay" type="number" min="0" value=${f.maxBatchTimeDelay} onInput=${set('maxBatchTimeDelay')} /></label>
      <label>Active<input type="checkbox" checked=${f.isActive} onChange=${set('isActive')} /></label>
    </div>
    <${Err} e=${err} />
    <p class="actions"><button class="primary" id="wh-save" type="submit">${w.id ? 'Save' : 'Create webhook'}</button>
      <button type="button" onClick=${onCancel}>Cancel</button></p>
  </form>`;
}

function Health({ id }) {
  const [hb] = useAsync(() => api('GET', '/v1/webhooks/' + enc(id) + '/heartbeat?probe=false'), [id]);
  if (!hb.value) return html`<span class="muted">…</span>`;
  const v = hb.value;
  return html`<${Badge} s=${v.healthStatus} />
    <div class="muted" style="font-size:12px">last ok ${when(v.lastSuccessAt)}${v.lastFailureAt ? html`<br/>last failure ${when(v.lastFailureAt)}` : ''}${v.consecutiveFailures ? html`<br/>${v.consecutiveFailures} failing in a row` : ''}</div>`;
}

// LastDelivery is a webhook's newest batch (batch lists are newest first).
function LastDelivery({ id }) {
  const [b] = useAsync(() => api('GET', '/v1/webhooks/' + enc(id) + '/batches?limit=1'), [id]);
  const last = b.value && b.value.results[0];
  if (!last) return html`<span class="muted">${b.value ? 'none yet' : '…'}</span>`;
  return html`<span class="last-delivery"><${Badge} s=${last.status} /> ${last.lastStatusCode == null ? '' : last.lastStatusCode}
    <div class="muted" style="font-size:12px">${when(last.lastAttemptAt || last.createdAt)}</div></span>`;
}

function Secret({ id }) {
  const [secret, setSecret] = useState(null);
  const [grace, setGrace] = useState('24h');
  return html`<span class="actions">
    <${Action} label="Reveal secret" id=${'reveal-' + id} run=${async () => setSecret((await api('GET', '/v1/webhooks/' + enc(id) + '/secret')).secret)} />
    <input size="5" value=${grace} onInput=${e => setGrace(e.target.value)} title="grace period" />
    <${Action} label="Rotate" confirm=${true} run=${async () => setSecret((await api('POST', '/v1/webhooks/' + enc(id) + '/secret:rotate', { gracePeriod: grace })).secret)} />
    ${secret && html`<code class="mono">${secret}</code>`}
  </span>`;
}

function Webhooks({ session, open }) {
  const [cursor, setCursor] = useState('');
  const [list, reload] = useAsync(() => api('GET', '/v1/webhooks' + query({ limit: 50, cursor })), [cursor]);
  const [editing, setEditing] = useState(null); // null | {} | webhook
  const [pings, setPings] = useState({});
  const [portal, setPortal] = useState(null);
  const can = session.can;
  const done = () => { setEditing(null); reload(); };
  const patch = (w, body) => api('PATCH', '/v1/webhooks/' + enc(w.id), body).then(reload);
  return html`<section id="webhooks">
    <div class="row" style="justify-content:space-between"><h2>Webhooks</h2>
      <span class="actions">
        ${can.write && !session.limited && html`<button class="primary" id="new-webhook" onClick=${() => setEditing({})}>New webhook</button>`}
        ${can.admin && html`<button id="new-portal" onClick=${() => setPortal({})}>Customer portal…</button>`}
      </span></div>
    ${portal && html`<${PortalForm} hooks=${(list.value && list.value.results) || []} onClose=${() => setPortal(null)} />`}
    ${editing && html`<${WebhookForm} initial=${editing} onDone=${done} onCancel=${() => setEditing(null)} />`}
    <${Err} e=${list.error} />
    ${list.value && html`<table id="webhook-table">
      <thead><tr><th>URL</th><th>Health</th><th>Last delivery</th><th>Events</th><th>Batching</th><th>Active</th><th></th></tr></thead>
      <tbody>${list.value.results.map(w => html`<tr key=${w.id} data-webhook=${w.id}>
        <td><a href="#" class="hook-link" onClick=${e => { e.preventDefault(); open(w); }}>${w.url}</a>
          <div class="muted mono">${w.id}</div><div class="muted">${w.description}</div></td>
        <td><${Health} id=${w.id} /></td>
        <td><${LastDelivery} id=${w.id} /></td>
        <td>${w.events && w.events.length ? w.events.join(', ') : html`<span class="muted">all</span>`}</td>
        <td>${w.maxBatchSize} / ${w.maxBatchTimeDelay} ms${w.ordered ? ', ordered' : ''}</td>
        <td>${w.isActive ? 'yes' : 'no'}</td>
        <td><div class="actions">
          <button class="deliveries" onClick=${() => open(w)}>Deliveries</button>
          ${can.write && html`
            <button class="edit" onClick=${() => setEditing(w)}>Edit</button>
            <${Action} label=${w.isActive ? 'Deactivate' : 'Activate'} run=${() => patch(w, { isActive: !w.isActive })} />
            <${Action} label="Ping" run=${async () => { const r = await api('POST', '/v1/webhooks/' + enc(w.id) + ':ping'); setPings({ ...pings, [w.id]: r }); }} />
            <${Action} label="Delete" cls="danger" confirm=${true} run=${() => api('DELETE', '/v1/webhooks/' + enc(w.id)).then(reload)} />`}
          ${can.admin && html`<${Secret} id=${w.id} />`}
        </div>
        ${pings[w.id] && html`<div class="ping-result">${pings[w.id].success ? 'ping ok' : 'ping failed'} · ${pings[w.id].statusCode || '—'} · ${pings[w.id].latencyMs} ms ${pings[w.id].error || ''}</div>`}
        </td></tr>`)}</tbody></table>
      ${list.value.results.length === 0 && html`<p class="muted">No webhooks yet.</p>`}
      <p class="actions">${cursor && html`<button onClick=${() => setCursor('')}>First page</button>`}
        ${list.value.nextCursor && html`<button onClick=${() => setCursor(list.value.nextCursor)}>Next page</button>`}</p>`}
  </section>`;
}

function PortalForm({ hooks, onClose }) {
  const [chosen, setChosen] = useState({});
  const [ttl, setTTL] = useState('1h');
  const [out, setOut] = useState(null);
  const [err, setErr] = useState(null);
  const create = async () => {
    setErr(null);
    const ids = Object.keys(chosen).filter(k => chosen[k]);
    try { setOut(await api('POST', '/v1/portal-sessions', ids.length ? { webhookIds: ids, ttl } : { ttl })); } catch (e) { setErr(e); }
  };
  return html`<div class="card" id="portal-form"><h3>Customer portal</h3>
    <p class="muted">A link to this console for your customer: limited to this tenant (and to the webhooks chosen, if any), with webhook read/write rights only. Embed it in an iframe from an origin listed in console.frame_ancestors.</p>
    ${hooks.map(w => html`<label style="flex-direction:row;gap:6px"><input type="checkbox" checked=${!!chosen[w.id]} onChange=${e => setChosen({ ...chosen, [w.id]: e.target.checked })} />${w.url} <span class="mono">${w.id}</span></label>`)}
    <div class="row"><label>Lifetime<input value=${ttl} onInput=${e => setTTL(e.target.value)} /></label>
      <button class="primary" onClick=${create}>Create link</button><button onClick=${onClose}>Close</button></div>
    <${Err} e=${err} />
    ${out && html`<p>Expires ${when(out.expiresAt)}</p><input id="portal-url" readonly style="width:100%" value=${out.url} />`}
  </div>`;
}

// --- deliveries ------------------------------------------------------------

function Attempts({ hook, batch }) {
  const base = '/v1/webhooks/' + enc(hook) + '/batches/' + enc(batch);
  const [b] = useAsync(() => api('GET', base), [hook, batch]);
  const [as] = useAsync(() => api('GET', base + '/attempts?limit=100'), [hook, batch]);
  return html`<div class="attempts">
    <${Err} e=${b.error || as.error} />
    ${b.value && html`<h3>Events</h3>${b.value.events.map(ev => html`<div key=${ev.id}><span class="mono">${ev.id}</span> · ${ev.type}<pre class="payload">${JSON.stringify(ev.data, null, 2)}</pre></div>`)}`}
    <h3>Attempts</h3>
    ${as.value && as.value.results.map(a => html`<div class="card attempt" key=${a.id} data-attempt=${a.id}>
      <div class="row"><${Badge} s=${a.status} /><span>${a.trigger}</span><span class="mono">${a.id}</span>
        <span>status <b class="status-code">${a.responseStatusCode == null ? '—' : a.responseStatusCode}</b></span>
        <span>${a.durationMs} ms</span><span class="muted">${when(a.startedAt || a.scheduledAt)}</span></div>
      ${a.error && html`<div class="err">${a.error}</div>`}
      <table><tbody>${Object.entries(a.requestHeaders || {}).map(([k, v]) => html`<tr key=${k}><td class="mono">${k}</td><td class="mono">${v}</td></tr>`)}</tbody></table>
      ${a.responseBody && html`<pre class="response-body">${a.responseBody}</pre>`}
    </div>`)}
  </div>`;
}

function SendExpired({ hook, onDone }) {
  const [f, setF] = useState({ after: '', before: '' });
  const [out, setOut] = useState(null);
  return html`<div class="row">
    <label>Created after<input type="datetime-local" value=${f.after} onInput=${e => setF({ ...f, after: e.target.value })} /></label>
    <label>Created before<input type="datetime-local" value=${f.before} onInput=${e => setF({ ...f, before: e.target.value })} /></label>
    <${Action} label="Send expired" id="send-expired" run=${async () => {
      const body = { webhookId: hook };
      if (f.after) body.createdAfter = toISO(f.after);
      if (f.before) body.createdBefore = toISO(f.before);
      setOut(await api('POST', '/v1/webhooks:sendexpired', body)); onDone();
    }} />${out && html`<span id="sent-expired">${out.scheduled} scheduled again</span>`}</div>`;
}

const STATUSES = ['', 'pending', 'retrying', 'delivered', 'expired', 'cancelled'];

function Deliveries({ hook, session, back }) {
  const [form, setForm] = useState({ status: '', eventType: '', createdAfter: '', createdBefore: '', ref: '' });
  const [filters, setFilters] = useState({});
  const [cursor, setCursor] = useState('');
  const [openB, setOpenB] = useState(null);
  const [list, reload] = useAsync(() => api('GET', '/v1/webhooks/' + enc(hook.id) + '/batches' + query({ ...filters, limit: 50, cursor })), [hook.id, filters, cursor]);
  const apply = e => {
    e.preventDefault();
    const f = { status: form.status, eventType: form.eventType, createdAfter: toISO(form.createdAfter), createdBefore: toISO(form.createdBefore) };
    const m = /^([A-Za-z0-9._-]+)=(.*)$/.exec(form.ref.trim());
    if (m) f['ref.' + m[1]] = m[2];
    setCursor(''); setFilters(f);
  };
  const set = k => e => setForm({ ...form, [k]: e.target.value });
  return html`<section id="deliveries">
    <p><a href="#" onClick=${e => { e.preventDefault(); back(); }}>← Webhooks</a></p>
    <h2>Deliveries of <span class="mono">${hook.url}</span></h2>
    <form class="card row" onSubmit=${apply}>
      <label>Status<select id="f-status" value=${form.status} onChange=${set('status')}>${STATUSES.map(s => html`<option value=${s}>${s || 'any'}</option>`)}</select></label>
      <label>Event type<input value=${form.eventType} onInput=${set('eventType')} /></label>
      <label>Created after<input type="datetime-local" value=${form.createdAfter} onInput=${set('createdAfter')} /></label>
      <label>Created before<input type="datetime-local" value=${form.createdBefore} onInput=${set('createdBefore')} /></label>
      <label>Ref (name=value)<input value=${form.ref} onInput=${set('ref')} placeholder="orderRef=A1" /></label>
      <button type="submit">Filter</button><button type="button" id="refresh" onClick=${reload}>Refresh</button>
    </form>
    ${session.can.write && html`<div class="card"><b>Send expired</b> (a fresh attempt budget for this webhook's expired batches)<${SendExpired} hook=${hook.id} onDone=${reload} /></div>`}
    <${Err} e=${list.error} />
    ${list.value && html`<table id="batch-table"><thead><tr><th>Batch</th><th>Status</th><th>Events</th><th>Attempts</th><th>Last status</th><th>Created</th><th>Delivered</th><th></th></tr></thead>
      <tbody>${list.value.results.map(b => html`<tr key=${b.id} data-batch=${b.id}>
        <td class="mono">${b.id}</td><td><${Badge} s=${b.status} /></td>
        <td>${b.totalEvents} · ${b.eventTypes.join(', ')}</td><td>${b.attempts}/${b.maxAttempts}</td>
        <td class="last-status">${b.lastStatusCode == null ? '—' : b.lastStatusCode}</td>
        <td>${when(b.createdAt)}</td><td>${when(b.deliveredAt)}</td>
        <td class="actions"><button class="show-attempts" onClick=${() => setOpenB(openB === b.id ? null : b.id)}>${openB === b.id ? 'Hide' : 'Attempts'}</button>
          ${session.can.write && html`<${Action} label="Replay" run=${() => api('POST', '/v1/webhooks/' + enc(hook.id) + '/batches/' + enc(b.id) + '/attempts').then(reload)} />`}</td>
      </tr>`)}</tbody></table>
      ${list.value.results.length === 0 && html`<p class="muted" id="no-batches">No batches match.</p>`}
      <p class="actions">${cursor && html`<button onClick=${() => setCursor('')}>First page</button>`}
        ${list.value.nextCursor && html`<button onClick=${() => setCursor(list.value.nextCursor)}>Next page</button>`}</p>`}
    ${openB && html`<div class="card" id="batch-detail"><h3>Batch <span class="mono">${openB}</span></h3><${Attempts} hook=${hook.id} batch=${openB} /></div>`}
  </section>`;
}

// --- events and event types --------------------------------------------------

function Events({ openHook }) {
  const [ref, setRef] = useState('');
  const [ev, setEv] = useState(null);
  const [err, setErr] = useState(null);
  const find = async e => {
    e.preventDefault(); setErr(null); setEv(null);
    try { setEv(await api('GET', '/v1/events/' + enc(ref.trim()))); } catch (x) { setErr(x); }
  };
  return html`<section id="events"><h2>Events</h2>
    <form class="card row" onSubmit=${find}><label style="flex:1">Event id or idempotency key<input id="event-ref" value=${ref} onInput=${e => setRef(e.target.value)} placeholder="evt_… or your key" /></label>
      <button class="primary" id="event-find" type="submit">Look up</button></form>
    <${Err} e=${err} />
    ${ev && html`<div class="card" id="event-detail"><div class="row"><b>${ev.type}</b><span class="mono">${ev.id}</span><span class="muted">${when(ev.timestamp)}</span>${ev.idempotencyKey && html`<span>key <span class="mono">${ev.idempotencyKey}</span></span>`}</div>
      ${ev.refs && html`<p>${Object.entries(ev.refs).map(([k, v]) => html`<span class="badge" style="margin-right:6px">${k}=${v}</span>`)}</p>`}
      <pre class="payload">${JSON.stringify(ev.data, null, 2)}</pre>
      <h3>Where it went</h3>
      <table><thead><tr><th>Webhook</th><th>Batch</th><th>Status</th></tr></thead><tbody>
        ${ev.deliveries.map(d => html`<tr key=${d.webhookId}><td class="mono"><a href="#" onClick=${e => { e.preventDefault(); openHook(d.webhookId); }}>${d.webhookId}</a></td><td class="mono">${d.batchId || '—'}</td><td><${Badge} s=${d.status} /></td></tr>`)}
      </tbody></table>${ev.deliveries.length === 0 && html`<p class="muted">No webhook took it.</p>`}</div>`}
  </section>`;
}

function EventTypes({ session }) {
  const [list, reload] = useAsync(() => api('GET', '/v1/event-types?limit=1000'), []);
  const [f, setF] = useState({ name: '', description: '' });
  const [err, setErr] = useState(null);
  const add = async e => {
    e.preventDefault(); setErr(null);
    try { await api('POST', '/v1/event-types', f); setF({ name: '', description: '' }); reload(); } catch (x) { setErr(x); }
  };
  return html`<section id="event-types"><h2>Event types</h2>
    ${session.can.admin && html`<form class="card row" onSubmit=${add}>
      <label>Name<input id="et-name" required value=${f.name} onInput=${e => setF({ ...f, name: e.target.value })} placeholder="order.created" /></label>
      <label style="flex:1">Description<input value=${f.description} onInput=${e => setF({ ...f, description: e.target.value })} /></label>
      <button class="primary" id="et-add" type="submit">Register</button></form>`}
    <${Err} e=${err || list.error} />
    ${list.value && html`<table id="event-type-table"><thead><tr><th>Name</th><th>Description</th><th>Registered</th><th></th></tr></thead><tbody>
      ${list.value.results.map(t => html`<tr key=${t.name}><td class="mono">${t.name}</td><td>${t.description}</td><td>${when(t.createdAt)}</td>
        <td>${session.can.admin && html`<${Action} label="Delete" cls="danger" confirm=${true} run=${() => api('DELETE', '/v1/event-types/' + enc(t.name)).then(reload)} />`}</td></tr>`)}
    </tbody></table>`}
  </section>`;
}

// --- live --------------------------------------------------------------------

const SERIES = [['ingested', '#2456d6'], ['succeeded', '#16794c'], ['failed', '#b42318']];
const LAT = [['p50Ms', '#7c3aed'], ['p95Ms', '#db2777'], ['p99Ms', '#ea580c']];

function Chart({ points, series, unit }) {
  const W = 900, H = 200, P = 34;
  const max = Math.max(1, ...points.flatMap(p => series.map(([k]) => p[k] || 0)));
  const x = i => P + i * (W - P - 8) / Math.max(1, points.length - 1);
  const y = v => H - 20 - (v / max) * (H - 34);
  return html`<div><svg class="chart" viewBox=${`0 0 ${W} ${H}`} preserveAspectRatio="none">
    ${[0, .5, 1].map(f => html`<g><line class="grid" x1=${P} x2=${W} y1=${y(max * f)} y2=${y(max * f)} /><text x="2" y=${y(max * f) + 4} font-size="10" fill="#667085">${Math.round(max * f)}</text></g>`)}
    ${series.map(([k, c]) => html`<g><polyline fill="none" stroke=${c} stroke-width="2" points=${points.map((p, i) => p[k] == null ? null : x(i) + ',' + y(p[k])).filter(Boolean).join(' ')} />
      ${points.map((p, i) => p[k] ? html`<circle cx=${x(i)} cy=${y(p[k])} r="3" fill=${c} />` : null)}</g>`)}
  </svg><div class="legend">${series.map(([k, c]) => html`<span><i style=${{ background: c }}></i>${k}${unit}</span>`)}</div></div>`;
}

function Live({ session }) {
  const [data, setData] = useState(null);
  const [err, setErr] = useState(null);
  const load = useCallback(() => api('GET', '/v1/stats').then(d => { setData(d); setErr(null); }, setErr), []);
  useEffect(() => { load(); const t = setInterval(load, 5000); return () => clearInterval(t); }, [load]);
  const sum = k => data ? data.points.reduce((a, p) => a + (p[k] || 0), 0) : 0;
  return html`<section id="live"><h2>Live</h2>
    <${Err} e=${err} />
    ${data && html`<div class="card"><div class="row">
        <span>Last 10 minutes: <b id="live-ingested">${sum('ingested')}</b> events in for ${session.tenant}; <b id="live-succeeded">${sum('succeeded')}</b> attempts succeeded and <b>${sum('failed')}</b> failed on the whole server</span></div>
      <h3>Per ${data.stepSeconds} s</h3><${Chart} points=${data.points} series=${SERIES} unit="" />
      <h3>Attempt latency, whole server (ms, upper bound of the bucket)</h3><${Chart} points=${data.points} series=${LAT} unit="" />
      <p class="muted">Events in count this tenant's acknowledged events; attempts are the engine's counts for the server (as /metrics shows them), from the steps in which someone published or watched.</p></div>`}
  </section>`;
}

// --- shell -------------------------------------------------------------------

function App() {
  const [session, setSession] = useState(null);
  const [loginErr, setLoginErr] = useState(null);
  const [view, setView] = useState({ name: 'webhooks' });

  const connect = useCallback(async () => {
    try {
      const s = await api('GET', '/v1/session');
      const has = r => s.roles.includes(r);
      s.can = { write: has('tenant-webhook-write') || has('tenant-webhook-writer') || has('tenant-admin'), admin: has('tenant-admin') };
      s.limited = s.webhookIds != null;
      setSession(s); setLoginErr(null);
    } catch (e) {
      setSession(false);
      if (token) setLoginErr(e);
    }
  }, []);
  useEffect(() => { connect(); }, [connect]);

  if (session === null) return html`<p class="muted pad">Connecting…</p>`;
  if (session === false) return html`<${Login} error=${loginErr} onToken=${t => { token = t; sessionStorage.setItem(TOKEN_KEY, t); connect(); }} />`;

  const signOut = () => { token = ''; sessionStorage.removeItem(TOKEN_KEY); setSession(false); setLoginErr(null); };
  const openHook = async w => setView({ name: 'deliveries', hook: typeof w === 'string' ? await api('GET', '/v1/webhooks/' + enc(w)) : w });
  const tabs = [['webhooks', 'Webhooks'], ['events', 'Events'], ['types', 'Event types']];
  if (!session.limited) tabs.push(['live', 'Live']);
  const who = session.tenant + (session.portal ? ' · portal' : '') + ' · ' + (session.can.admin ? 'admin' : session.can.write ? 'read/write' : 'read-only');
  return html`<div>
    <header><span class="brand">hookd</span>
      <nav>${tabs.map(([k, label]) => html`<button id=${'tab-' + k} class=${view.name === k || (k === 'webhooks' && view.name === 'deliveries') ? 'on' : ''} onClick=${() => setView({ name: k })}>${label}</button>`)}</nav>
      <span class="who" id="who">${who}</span>
      ${session.authMode !== 'none' && !session.portal && html`<button onClick=${signOut}>Sign out</button>`}
    </header>
    <main>
      ${view.name === 'webhooks' && html`<${Webhooks} session=${session} open=${openHook} />`}
      ${view.name === 'deliveries' && html`<${Deliveries} hook=${view.hook} session=${session} back=${() => setView({ name: 'webhooks' })} />`}
      ${view.name === 'events' && html`<${Events} openHook=${openHook} />`}
      ${view.name === 'types' && html`<${EventTypes} session=${session} />`}
      ${view.name === 'live' && html`<${Live} session=${session} />`}
    </main></div>`;
}

render(html`<${App} />`, document.getElementById('app'));
