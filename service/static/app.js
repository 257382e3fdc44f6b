// hipflex dashboard: one plain ES module, no build step and no dependencies, so the page works offline
// straight from the app's static folder.  Everything it shows comes from the /api/v1 contract:
// REST for sessions, sets and exports; a WebSocket (falling back to Server-Sent Events) for live data.

const API = '/api/v1';
// A token is only needed when the service binds beyond loopback; the page takes it from its own URL.
const TOKEN = new URLSearchParams(location.search).get('token');
// Loading the page with ?token= set an HttpOnly cookie that authenticates the streams; take the token out
// of the address bar so it is not kept in the history or copied with the link.
if (TOKEN) {
  const clean = new URL(location.href);
  clean.searchParams.delete('token');
  history.replaceState(null, '', clean.pathname + clean.search + clean.hash);
}
const WINDOW_S = 20;       // seconds of angle trace on screen
const HOLD_BAND_DEG = 10;  // hold = time within this band below the peak (the DSP's hold_band_deg)
const EXCURSION_DEG = 20;  // a fall this far below the running peak ends the live excursion (min_rom_deg)
const MAX_BARS = 40;       // reps shown in the speed chart
const POLL_MS = 1000;      // how often an idle page looks for a session that started (follow mode)

const $ = (id) => document.getElementById(id);
const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const fmt = (x, nd = 0) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(nd));
// Lists may come bare or as a page ({items, total, ...}); accept both.
const listOf = (r) => (Array.isArray(r) ? r : r?.items ?? []);
const startedS = (s) => s.started_unix_s ?? Date.parse(s.started_at ?? s.created_at) / 1000;
const mean = (xs) => {
  const v = xs.filter(Number.isFinite);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

// ---- HTTP ----------------------------------------------------------------------------------------

async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (TOKEN) headers.Authorization = `Bearer ${TOKEN}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) {
    // The service answers errors with {"detail": "<one line>"}; show that, not a bare status code.
    const detail = await res.json().then((j) => j.detail, () => null);
    throw new Error(`${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`);
  }
  return res.json();
}

// ---- state ---------------------------------------------------------------------------------------

// What belongs to the session on screen; replaced wholesale when another session is attached.
const freshHold = () => ({ phase: 'down', min: Infinity, max: -Infinity, t: [], deg: [], value: 0, inBand: false });
const freshSession = () => ({
  seq: 0,               // last stream message seen, to resume after a dropped connection
  serverCount: 0,       // rep_count from status messages: the floor for the counter
  device: { state: null, phase: null, battery: null },
  trace: { t: [], deg: [] },
  stored: null,         // {t, deg}: the whole angle trace of an ended session (GET .../trace)
  peaks: [],            // [t, deg] of rep_peak markers on the trace
  reps: new Map(),      // key(peak_s) -> {setIndex, rep}: confirmed reps
  pending: new Map(),   // key(peak_s) -> peak_s: peaks announced by rep_peak but not yet confirmed
  closedSets: new Map(),// set index -> set summary from the server (final)
  hold: freshHold(),
});

const state = {
  session: null,        // summary of the session on screen
  live: null,           // the open stream ({close, closedByUs})
  transport: null,      // 'WebSocket' | 'SSE' | null
  ended: true,          // no more live data expected for the session on screen
  error: null,          // last error shown in the status line
  dirty: true,          // the angle canvas needs a redraw
  follow: true,         // attach the newest running session when none is on screen or it ended
  preparing: false,     // the server says it is preparing the analysis (GET /health)
  ...freshSession(),
};

// Reps are identified by their peak time: it is the same in /reps and in live messages, whatever
// numbering base the live "number" uses, so re-syncing after a reconnect never double counts.
const repKey = (peakS) => Math.round(peakS * 100);

function addRep(setIndex, rep) {
  state.reps.set(repKey(rep.peak_s), { setIndex, rep });
  // A confirmed rep replaces its early rep_peak announcement (allow for a refined peak time).
  for (const [k, t] of state.pending) if (Math.abs(t - rep.peak_s) < 0.1) state.pending.delete(k);
}

function addSet(set) {
  for (const rep of set.reps || []) addRep(set.index, rep);
  state.closedSets.set(set.index, set);
}

// ---- live messages -------------------------------------------------------------------------------

function onMessage(msg) {
  if (Number.isInteger(msg.seq)) state.seq = Math.max(state.seq, msg.seq);
  switch (msg.type) {
    case 'angle': onAngle(msg.t || [], msg.deg || []); break;
    case 'rep_peak':
      // Counted at the peak, before the rep ends, so the athlete sees the count without lag.
      if (![...state.reps.values()].some((r) => Math.abs(r.rep.peak_s - msg.peak_s) < 0.1)) {
        state.pending.set(repKey(msg.peak_s), msg.peak_s);
      }
      state.peaks.push([msg.peak_s, msg.peak_flexion_deg]);
      renderCount();
      state.dirty = true;
      break;
    case 'rep': addRep(msg.set_index, msg.rep); renderReps(); historySoon(); break;
    case 'set': addSet(msg.set); renderReps(); loadHistory(); break;
    case 'status':
      state.device = {
        state: msg.state,
        phase: msg.phase ?? state.device.phase,
        battery: msg.battery_pct ?? state.device.battery,
        gapS: msg.gap ? msg.gap.end_s - msg.gap.start_s : null,
      };
      if (msg.revised) {
        // The analysis re-learned the rest pose: what it reported is void, angles and reps follow again.
        Object.assign(state, { trace: { t: [], deg: [] }, peaks: [], reps: new Map(), pending: new Map(),
          closedSets: new Map(), hold: freshHold(), serverCount: 0 });
        renderReps();
      }
      state.serverCount = Math.max(state.serverCount, msg.rep_count ?? 0);
      if (msg.state === 'stopped') finishSession(msg.session_status);
      renderCount();
      renderStatus();
      break;
    default: break; // unknown types are ignored so the server can add new ones
  }
}

function onAngle(ts, degs) {
  const tr = state.trace;
  for (let i = 0; i < ts.length; i++) {
    tr.t.push(ts[i]);
    tr.deg.push(degs[i]); // null marks a gap: the trace breaks there
    holdSample(ts[i], degs[i]);
  }
  // Drop what scrolled out of the window (in one splice, not per sample).
  const cutoff = tr.t[tr.t.length - 1] - WINDOW_S - 1;
  let drop = 0;
  while (drop < tr.t.length && tr.t[drop] < cutoff) drop++;
  if (drop) { tr.t.splice(0, drop); tr.deg.splice(0, drop); }
  state.peaks = state.peaks.filter(([t]) => t >= cutoff);
  updateHold();
  state.dirty = true;
}

// Live hold timer.  The true hold_s needs the final peak, known only when the rep ends (it then comes
// in the "rep" message).  Meanwhile we follow the current excursion: time spent within HOLD_BAND_DEG of
// its running maximum, which equals the final value once the thigh has stopped rising.
function holdSample(t, d) {
  const h = state.hold;
  if (d === null || !Number.isFinite(d)) return;
  if (h.phase === 'down') {
    h.min = Math.min(h.min, d);
    if (d > h.min + HOLD_BAND_DEG) Object.assign(h, freshHold(), { phase: 'up', max: d });
  }
  if (h.phase === 'up') {
    h.t.push(t);
    h.deg.push(d);
    h.max = Math.max(h.max, d);
    h.inBand = d >= h.max - HOLD_BAND_DEG;
    // The excursion is over: settle its value now (at high playback speed a whole rep fits in one chunk).
    if (d < h.max - EXCURSION_DEG) Object.assign(h, { phase: 'down', min: d, inBand: false, value: holdTime(h) });
  }
}

function holdTime(h) {
  const floor = h.max - HOLD_BAND_DEG;
  let sum = 0;
  for (let i = 1; i < h.t.length; i++) if (h.deg[i] >= floor && h.deg[i - 1] >= floor) sum += h.t[i] - h.t[i - 1];
  return sum;
}

function updateHold() {
  const h = state.hold;
  // Recomputed per chunk (not per sample): an excursion is a few hundred samples at most.
  if (h.phase === 'up') h.value = holdTime(h);
  $('hold-timer').textContent = `${fmt(h.value, 1)} s`;
  $('hold-state').textContent = h.inBand ? 'near peak' : '';
}

// ---- streaming transport -------------------------------------------------------------------------

function disconnect() {
  if (state.live) { state.live.closedByUs = true; state.live.close(); }
  state.live = null;
  state.transport = null;
}

// WebSocket first.  The server sends a status message first on every connection, so a socket that
// closes before any message (not offered, or a proxy that accepts the upgrade and then drops it)
// means WebSockets don't work from here: fall back to SSE.
function connect(id) {
  disconnect();
  const url = new URL(`${API}/sessions/${encodeURIComponent(id)}/ws`, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // No ?token= here: the page's cookie authenticates the handshake (a URL would put the token in logs).
  if (state.seq) url.searchParams.set('after_seq', String(state.seq)); // resume, don't replay
  const ws = new WebSocket(url);
  const live = { close: () => ws.close(), closedByUs: false };
  let received = false;
  ws.onopen = () => { state.transport = 'WebSocket'; renderStatus(); };
  ws.onmessage = (ev) => { received = true; onMessage(JSON.parse(ev.data)); };
  ws.onclose = () => {
    if (live.closedByUs || state.live !== live) return;
    if (!received) { connectSse(id); return; }
    state.transport = null;
    renderStatus();
    // Dropped after working (e.g. the client fell behind): resume from the last message seen.
    if (!state.ended) setTimeout(() => { if (state.live === live) connect(id); }, 1000);
  };
  state.live = live;
}

function connectSse(id) {
  const es = new EventSource(`${API}/sessions/${encodeURIComponent(id)}/events`); // the cookie authenticates it
  const live = { close: () => es.close(), closedByUs: false };
  // Accept both plain "data:" messages and named events ("event: rep"); the JSON's own type wins.
  const handler = (ev) => onMessage({ type: ev.type, ...JSON.parse(ev.data) });
  es.onmessage = handler;
  for (const type of ['angle', 'rep_peak', 'rep', 'set', 'status']) es.addEventListener(type, handler);
  es.onopen = () => { state.transport = 'SSE'; renderStatus(); };
  // EventSource reconnects by itself (sending Last-Event-ID); we only stop it once the session is over.
  es.onerror = () => {
    if (state.ended) es.close();
    state.transport = es.readyState === EventSource.OPEN ? 'SSE' : null;
    renderStatus();
  };
  state.live = live;
}

// ---- sessions ------------------------------------------------------------------------------------

// The stored state of a session: its summary, set summaries and reps.
async function resync(id, reconnect) {
  const base = `/sessions/${encodeURIComponent(id)}`;
  try {
    const [summary, sets, reps] = await Promise.all([api(base), api(`${base}/sets`), api(`${base}/reps`)]);
    if (state.session?.id !== id) return; // the user moved on meanwhile
    state.session = summary;
    state.ended = summary.status !== 'running';
    // Once over, the stored reps are the count; a peak announced just before a stop may never complete.
    if (state.ended) { state.pending.clear(); state.serverCount = summary.rep_count ?? 0; }
    for (const r of listOf(reps)) addRep(r.set_index, r);
    // The set in progress ("closed": false) keeps growing; the page summarises it from its reps.
    for (const s of listOf(sets)) if (s.closed !== false) state.closedSets.set(s.index, s);
    state.error = null;
    if (reconnect && !state.ended) connect(id);
    if (state.ended && summary.sample_count) loadTrace(id);
  } catch (err) {
    state.error = `Could not load session: ${err.message}`;
  }
  renderAll();
}

// An ended session's whole angle trace, recomputed by the server from its raw log.
async function loadTrace(id) {
  try {
    const tr = await api(`/sessions/${encodeURIComponent(id)}/trace`);
    if (state.session?.id !== id || !state.ended) return;
    state.stored = tr.t.length ? tr : null;
  } catch (err) {
    state.stored = null; // no raw log (e.g. removed): the page still shows the stored reps
  }
  state.dirty = true;
}

async function attach(id) {
  disconnect();
  Object.assign(state, freshSession(), { session: { id }, dirty: true });
  state.ended = false;
  renderAll();
  await resync(id, true);
}

function finishSession(status) {
  state.ended = true;
  state.hold.phase = 'down';
  if (state.session) state.session.status = status || 'stopped';
  disconnect();
  // The server's stored sets are the final word (the last set closes when the session stops).
  if (state.session) resync(state.session.id, false);
  loadHistory();
}

async function startDemo(ev) {
  ev.preventDefault();
  const drill = $('drill').value;
  const body = {
    source: 'simulator',
    drill,
    fs_hz: 100,
    has_gyro: true,
    seed: Math.floor(Math.random() * 1e6), // a different athlete each time, so two demos can be compared
    speed: Number($('speed').value) || 1,
    label: $('label').value.trim() || `${drill} demo`,
    side: $('side').value || null,
  };
  // How the sensor is strapped, when the user said (naming only; the server refuses an inconsistent set).
  for (const [key, id] of [['face_normal_axis', 'face-normal'], ['sensor_placement', 'placement'], ['sensor_leg', 'sensor-leg']]) {
    if ($(id).value) body[key] = $(id).value;
  }
  $('start-demo').disabled = true;
  try {
    const s = await api('/sessions', { method: 'POST', body });
    setFollow(true);
    await attach(s.id);
    loadHistory();
  } catch (err) {
    state.error = `Could not start: ${err.message}`;
    renderStatus();
  } finally {
    renderControls();
  }
}

async function stopSession() {
  if (!state.session) return;
  $('stop').disabled = true;
  try {
    await api(`/sessions/${encodeURIComponent(state.session.id)}/stop`, { method: 'POST' });
    finishSession();
  } catch (err) {
    state.error = `Could not stop: ${err.message}`;
    renderStatus();
  }
}

// Export links work as plain links; with a token we fetch with the header and hand over a blob,
// so the token need not travel in a URL that might be logged.
async function exportClick(ev) {
  const a = ev.currentTarget;
  if (!TOKEN || !a.getAttribute('href')) return;
  ev.preventDefault();
  const res = await fetch(a.dataset.path, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const url = URL.createObjectURL(await res.blob());
  const tmp = Object.assign(document.createElement('a'), { href: url, download: a.download });
  tmp.click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function setExportLink(a, id, ext) {
  const path = `${API}/sessions/${encodeURIComponent(id)}/export.${ext}`;
  a.dataset.path = path;
  a.href = path; // the page's cookie authenticates a plain link too
  a.download = `hipflex-${id}.${ext}`;
  a.removeAttribute('aria-disabled');
}

// ---- history and comparison ----------------------------------------------------------------------

let sessions = []; // the history list, newest first

function when(s) {
  const t = startedS(s);
  return Number.isFinite(t) ? new Date(t * 1000).toLocaleString() : '';
}

function sessionName(s) {
  return [s.label || s.id, s.side, when(s), `${s.rep_count ?? 0} reps`].filter(Boolean).join(' · ');
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text; // textContent, never innerHTML: labels are user input
  if (cls) td.className = cls;
  tr.append(td);
  return td;
}

function emptyRow(tbody, text, cols) {
  const tr = document.createElement('tr');
  tr.className = 'empty';
  cell(tr, text).colSpan = cols;
  tbody.replaceChildren(tr);
}

// Rep counts in the history change with every rep; refresh it at most every few seconds while live.
let historyTimer = null;
function historySoon() {
  historyTimer ??= setTimeout(() => { historyTimer = null; loadHistory(); }, 3000);
}

async function loadHistory() {
  try {
    sessions = listOf(await api('/sessions'));
  } catch (err) {
    state.error = `Could not load history: ${err.message}`;
    renderStatus();
    return;
  }
  sessions.sort((a, b) => (startedS(b) || 0) - (startedS(a) || 0));
  const tbody = $('history').tBodies[0];
  if (!sessions.length) emptyRow(tbody, 'No sessions yet.', 7);
  else tbody.replaceChildren(...sessions.map(historyRow));
  fillCompareSelects();
  return sessions;
}

function historyRow(s) {
  const tr = document.createElement('tr');
  tr.dataset.sessionId = s.id;
  if (s.id === state.session?.id) tr.className = 'current';
  cell(tr, when(s) || '–');
  cell(tr, s.label || '–');
  cell(tr, s.side || '–');
  cell(tr, s.source || '–');
  cell(tr, s.status || '–');
  cell(tr, String(s.rep_count ?? 0));
  const td = cell(tr, '', 'actions');
  const view = Object.assign(document.createElement('button'), { type: 'button', className: 'small', textContent: 'View' });
  view.setAttribute('aria-label', `View session ${s.label || s.id}`);
  // Viewing a stored session keeps it on screen; a running one is followed as usual.
  view.addEventListener('click', () => { setFollow(s.status === 'running'); attach(s.id); });
  td.append(view);
  for (const ext of ['csv', 'json']) {
    const a = Object.assign(document.createElement('a'), { textContent: ext.toUpperCase() });
    setExportLink(a, s.id, ext);
    a.setAttribute('aria-label', `Export session ${s.label || s.id} as ${ext.toUpperCase()}`);
    a.addEventListener('click', exportClick);
    td.append(a);
  }
  return tr;
}

function fillCompareSelects() {
  const taken = [$('cmp-a'), $('cmp-b')].filter((sel) => sel.dataset.picked).map((sel) => sel.value);
  for (const [sel, side] of [[$('cmp-a'), 'left'], [$('cmp-b'), 'right']]) {
    const keep = sel.dataset.picked ? sel.value : null; // a default is re-chosen as sessions come
    sel.replaceChildren(...sessions.map((s) => new Option(sessionName(s), s.id)));
    // Keep the user's pick; else the newest session of the usual side (A left, B right), else the
    // newest one: never the session the other select already shows, since comparing a session
    // with itself tells nothing.
    const free = sessions.filter((s) => !taken.includes(s.id));
    const pick = sessions.find((s) => s.id === keep) || free.find((s) => s.side === side) || free[0] || sessions[0];
    if (pick) { sel.value = pick.id; taken.push(pick.id); }
  }
}

async function compare(ev) {
  ev.preventDefault();
  const tbody = $('compare-table').tBodies[0];
  const ids = [$('cmp-a').value, $('cmp-b').value];
  if (!ids[0] || !ids[1]) { emptyRow(tbody, 'Pick two sessions.', 7); return; }
  try {
    const [ra, rb] = (await Promise.all(ids.map((id) => api(`/sessions/${encodeURIComponent(id)}/reps`))))
      .map((r) => listOf(r).sort((x, y) => x.peak_s - y.peak_s));
    const fields = [['peak_flexion_velocity_dps', 0], ['rom_deg', 1], ['hold_s', 2]];
    const rows = [];
    for (let i = 0; i < Math.max(ra.length, rb.length); i++) {
      const tr = document.createElement('tr');
      cell(tr, String(i + 1));
      for (const [f, nd] of fields) { cell(tr, fmt(ra[i]?.[f], nd)); cell(tr, fmt(rb[i]?.[f], nd)); }
      rows.push(tr);
    }
    const avg = document.createElement('tr');
    avg.className = 'avg';
    cell(avg, 'Mean');
    for (const [f, nd] of fields) { cell(avg, fmt(mean(ra.map((r) => r[f])), nd)); cell(avg, fmt(mean(rb.map((r) => r[f])), nd)); }
    rows.push(avg);
    tbody.replaceChildren(...rows);
  } catch (err) {
    emptyRow(tbody, `Could not compare: ${err.message}`, 7);
  }
}

// ---- rendering -----------------------------------------------------------------------------------

function allReps() {
  return [...state.reps.values()].sort((a, b) => a.rep.peak_s - b.rep.peak_s);
}

function renderCount() {
  const n = String(Math.max(state.reps.size + state.pending.size, state.serverCount));
  $('rep-count').textContent = n;
  // Keep the current session's history row in step between history reloads.
  const row = state.session && $('history').querySelector(`tr[data-session-id="${CSS.escape(state.session.id)}"]`);
  // Only while it runs: before its summary arrives (just after "View") the count is not known yet.
  if (row && !state.ended && state.session.status === 'running') row.cells[5].textContent = n;
}

function renderReps() {
  renderCount();
  const reps = allReps();
  const last = reps.at(-1)?.rep;
  const show = (id, x, nd, unit) => { $(id).textContent = last ? `${fmt(x, nd)}${unit}` : '–'; };
  show('last-peak', last?.peak_flexion_deg, 1, '°');
  show('last-rom', last?.rom_deg, 1, '°');
  show('last-vel', last?.peak_flexion_velocity_dps, 0, ' °/s');
  show('last-ftime', last?.flexion_time_s * 1000, 0, ' ms');
  show('last-hold', last?.hold_s, 2, ' s');
  renderSets(reps);
  drawSpeed(reps.slice(-MAX_BARS));
}

// Summary of a set that is still open, by the same definitions the server uses for closed sets.
function summarise(reps) {
  const r = reps.slice().sort((a, b) => a.peak_s - b.peak_s);
  const n = r.length;
  const span = n > 1 ? r[n - 1].peak_s - r[0].peak_s : 0;
  const vmax = Math.max(...r.map((x) => x.peak_flexion_velocity_dps));
  return {
    rep_count: n,
    cadence_rpm: span > 0 ? (60 * (n - 1)) / span : null,
    velocity_loss_pct: vmax > 0 ? ((vmax - r[n - 1].peak_flexion_velocity_dps) / vmax) * 100 : null,
  };
}

// "side_lying_abduction" -> "side lying abduction"; "unknown" says so in words.
const drillText = (d) => (d.name === 'unknown' ? 'not recognised' : d.name.replaceAll('_', ' '));

function renderSets(reps) {
  const groups = new Map();
  for (const { setIndex, rep } of reps) {
    if (!groups.has(setIndex)) groups.set(setIndex, []);
    groups.get(setIndex).push(rep);
  }
  const tbody = $('set-table').tBodies[0];
  const indices = [...new Set([...groups.keys(), ...state.closedSets.keys()])].sort((a, b) => a - b);
  if (!indices.length) { emptyRow(tbody, 'No sets yet.', 9); return; }
  tbody.replaceChildren(...indices.map((i) => {
    const closed = state.closedSets.has(i);
    const reps = groups.get(i) ?? [];
    const s = closed ? state.closedSets.get(i) : summarise(reps);
    const tr = document.createElement('tr');
    tr.dataset.setIndex = String(i);
    cell(tr, String(i + 1));
    // The drill is named when the set's result is built (stored sets); '–' while it is open.
    const drill = closed ? s.drill : null;
    const dc = cell(tr, drill ? drillText(drill) : '–');
    dc.dataset.testid = 'set-drill';
    if (drill) dc.title = `${drill.pose}, ${drill.movement} (confidence ${fmt(drill.confidence, 2)}): ${drill.recognised_from}`;
    // Swings lost packets hid count in rep_count; say how many so the rep rows add up.
    const hidden = s.hidden_peaks_s?.length ?? 0;
    cell(tr, hidden ? `${s.rep_count} (${hidden} in gaps)` : String(s.rep_count));
    cell(tr, fmt(s.cadence_rpm, 1));
    cell(tr, fmt(s.velocity_loss_pct, 1));
    cell(tr, fmt(Math.max(...reps.map((r) => r.peak_flexion_velocity_dps)), 0));
    cell(tr, fmt(mean(reps.map((r) => r.rom_deg)), 1));
    cell(tr, fmt(Math.max(...reps.map((r) => r.hold_s)), 2));
    cell(tr, closed ? 'done' : 'in progress');
    return tr;
  }));
}

// What the analysis is doing, in the athlete's terms.  While "calibrating" the status's phase says which
// step the analysis is at: it waits for a still moment (the rest pose), then learns the flexion axis and
// its sign from about 8 s of the first movements.  The analysis runs from the first row meanwhile, and
// the reps made so far are counted when it is done, so the athlete need not wait: the page says so.
const DEVICE_TEXT = {
  calibrating: ['Setting up the angle; reps so far are counted then', 'warn'],
  running: ['Counting reps', 'ok'],
  gap: ['Signal gap: samples lost', 'warn'],
  reconnecting: ['Sensor reconnecting…', 'warn'],
  stopped: ['Session stopped', ''],
};
const PHASE_TEXT = {
  waiting_for_still: 'Waiting for a still moment to learn the rest pose; reps made meanwhile are counted then',
  learning_axis: 'Learning the movement axis from the first movements; reps so far are counted then',
};

function renderStatus() {
  const el = $('status');
  const parts = [];
  let cls = '';
  if (!state.session) {
    parts.push(state.preparing
      ? 'Preparing the analysis: the session starts when it is ready'
      : 'Waiting for a session: start one below or from the command line');
    if (state.preparing) cls = 'warn';
  }
  else if (state.ended) {
    parts.push(`Session ${state.session.status || 'ended'}`);
    if (state.session.error) { parts.push(state.session.error); cls = 'bad'; }
  }
  else {
    let [text, c] = DEVICE_TEXT[state.device.state] || ['Waiting for data', 'warn'];
    if (state.device.state === 'calibrating' && PHASE_TEXT[state.device.phase]) text = PHASE_TEXT[state.device.phase];
    parts.push(state.device.state === 'gap' && state.device.gapS ? `${text} (${fmt(state.device.gapS, 1)} s)` : text);
    cls = c;
    parts.push(state.transport ? `live via ${state.transport}` : 'connecting…');
    if (!state.transport) cls = 'warn';
  }
  if (state.device.battery !== null && state.device.battery !== undefined) parts.push(`battery ${fmt(state.device.battery, 0)} %`);
  if (state.error) { parts.push(state.error); cls = 'bad'; }
  el.textContent = parts.join(' · ');
  el.className = `status ${cls}`;
}

function renderControls() {
  const id = state.session?.id;
  $('stop').disabled = !id || state.ended;
  $('start-demo').disabled = false;
  $('session-id').textContent = id ? `session ${id}` : '';
  for (const ext of ['csv', 'json']) {
    const a = $(`export-${ext}`);
    if (id) setExportLink(a, id, ext);
    else { a.removeAttribute('href'); a.setAttribute('aria-disabled', 'true'); }
  }
  for (const tr of $('history').tBodies[0].rows) tr.classList.toggle('current', tr.dataset.sessionId === id);
}

function renderAll() {
  renderStatus();
  renderControls();
  renderReps();
  updateHold();
  state.dirty = true;
}

// ---- canvases ------------------------------------------------------------------------------------

// Size the backing store to the element's CSS size times the pixel ratio, so lines stay sharp.
function prepare(canvas) {
  if (!canvas.dataset.h) canvas.dataset.h = canvas.getAttribute('height');
  const h = Number(canvas.dataset.h);
  const w = canvas.clientWidth || 600;
  const dpr = window.devicePixelRatio || 1;
  canvas.style.height = `${h}px`;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = '12px system-ui, sans-serif';
  return { ctx, w, h };
}

// Live: the last WINDOW_S seconds, scrolling.  An ended session: its whole stored trace, with its
// reps marked at their peaks.
function drawAngle() {
  const { ctx, w, h } = prepare($('angle-canvas'));
  const stored = state.ended ? state.stored : null;
  const { t, deg } = stored || state.trace;
  const pad = { l: 44, r: 10, t: 10, b: 22 };
  const tEnd = t.length ? t[t.length - 1] : WINDOW_S;
  const span = stored ? Math.max(tEnd - t[0], 1e-3) : WINDOW_S;
  const tStart = tEnd - span;
  const finite = deg.filter(Number.isFinite);
  let lo = -20;
  let hi = 120;
  for (const d of finite) { if (d < lo) lo = d; if (d > hi) hi = d; } // no spread: traces can be long
  const x = (tt) => pad.l + ((tt - tStart) / span) * (w - pad.l - pad.r);
  const y = (d) => pad.t + ((hi - d) / (hi - lo)) * (h - pad.t - pad.b);
  ctx.strokeStyle = cssVar('--line');
  ctx.fillStyle = cssVar('--muted');
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let d = Math.ceil(lo / 30) * 30; d <= hi; d += 30) {
    ctx.beginPath(); ctx.moveTo(pad.l, y(d)); ctx.lineTo(w - pad.r, y(d)); ctx.stroke();
    ctx.fillText(`${d}°`, pad.l - 6, y(d));
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  if (stored) {
    // Seconds into the recording, about six labels whatever its length.
    const step = niceStep(span / 6);
    for (let s = Math.ceil(tStart / step) * step; s <= tEnd + 1e-9; s += step) ctx.fillText(`${fmt(s, step < 1 ? 1 : 0)} s`, x(s), h - pad.b + 5);
  } else {
    for (let s = 0; s <= WINDOW_S; s += 5) ctx.fillText(s ? `−${s} s` : 'now', x(tEnd - s), h - pad.b + 5);
  }
  // The hold band of the current excursion, so the athlete can see the target zone.
  const hold = state.hold;
  if (!stored && hold.phase === 'up') {
    ctx.fillStyle = 'rgba(11, 92, 173, 0.12)';
    ctx.fillRect(pad.l, y(hold.max), w - pad.l - pad.r, y(hold.max - HOLD_BAND_DEG) - y(hold.max));
  }
  ctx.strokeStyle = cssVar('--accent');
  ctx.lineWidth = 2;
  ctx.beginPath();
  let pen = false;
  let first = null; // time of the first point drawn: no peak dot before it
  for (let i = 0; i < t.length; i++) {
    if (!Number.isFinite(deg[i]) || t[i] < tStart) { pen = false; continue; }
    if (pen) ctx.lineTo(x(t[i]), y(deg[i])); else ctx.moveTo(x(t[i]), y(deg[i]));
    first ??= t[i];
    pen = true;
  }
  ctx.stroke();
  // Dots only where the trace is drawn: after attaching mid-session the stream names earlier peaks
  // whose angles the page never received, and a dot in empty space would look like a lost trace.
  const dots = stored
    ? allReps().map(({ rep }) => [rep.peak_s, rep.peak_flexion_deg])
    : state.peaks;
  ctx.fillStyle = cssVar('--accent2');
  for (const [pt, pd] of dots) {
    if (first === null || pt < first || pt > tEnd || !Number.isFinite(pd)) continue;
    ctx.beginPath(); ctx.arc(x(pt), y(pd), 4, 0, 2 * Math.PI); ctx.fill();
  }
  $('angle-canvas').setAttribute('aria-label', stored
    ? `Thigh flexion angle over the whole session (${fmt(span, 0)} s), ${dots.length} reps marked`
    : `Thigh flexion angle over the last ${WINDOW_S} seconds`);
  if (!t.length) {
    ctx.fillStyle = cssVar('--muted');
    ctx.textBaseline = 'middle';
    const msg = state.session ? 'No angle yet.' : 'No live data. Start a demo session or view one from the history.';
    ctx.fillText(msg, w / 2, h / 2);
  }
}

// A round step (1, 2 or 5 times a power of ten) at least `raw`.
function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= raw);
}

// Two stacked bar panels over the same reps: peak flexion velocity and flexion time.
function drawSpeed(items) {
  const { ctx, w, h } = prepare($('speed-canvas'));
  const pad = { l: 56, r: 10, t: 8, gap: 20 };
  const panelH = (h - pad.t - pad.gap - 8) / 2;
  const panels = [
    { key: 'peak_flexion_velocity_dps', scale: 1, unit: '°/s', color: cssVar('--accent'), top: pad.t },
    { key: 'flexion_time_s', scale: 1000, unit: 'ms', color: cssVar('--accent2'), top: pad.t + panelH + pad.gap },
  ];
  const slot = (w - pad.l - pad.r) / MAX_BARS;
  ctx.textBaseline = 'middle';
  for (const p of panels) {
    const vals = items.map(({ rep }) => (Number.isFinite(rep[p.key]) ? rep[p.key] * p.scale : 0));
    ctx.strokeStyle = cssVar('--line');
    ctx.fillStyle = cssVar('--muted');
    ctx.textAlign = 'right';
    // The axis top is a round number above the largest bar; with no bars there is no scale to show.
    const top = Math.max(0, ...vals);
    const vmax = top > 0 ? niceStep(top * 1.05 / 2) * 2 : 0;
    for (const f of [0, 0.5, 1]) {
      const yy = p.top + panelH * (1 - f);
      ctx.beginPath(); ctx.moveTo(pad.l, yy); ctx.lineTo(w - pad.r, yy); ctx.stroke();
      if (vmax > 0) ctx.fillText(`${fmt(vmax * f, vmax * f % 1 ? 1 : 0)} ${p.unit}`, pad.l - 6, yy);
    }
    if (!(vmax > 0)) {
      ctx.textAlign = 'center';
      ctx.fillText(`${p.unit === 'ms' ? 'Flexion time' : 'Peak velocity'}: no reps yet`, (pad.l + w - pad.r) / 2, p.top + panelH / 2);
      continue;
    }
    items.forEach(({ setIndex }, i) => {
      const bh = (vals[i] / vmax) * panelH;
      // Alternate shade per set so set boundaries are visible without a legend.
      ctx.globalAlpha = setIndex % 2 ? 0.55 : 1;
      ctx.fillStyle = p.color;
      ctx.fillRect(pad.l + i * slot + slot * 0.15, p.top + panelH - bh, slot * 0.7, bh);
    });
    ctx.globalAlpha = 1;
  }
  const last = items.at(-1)?.rep;
  $('speed-canvas').setAttribute('aria-label', last
    ? `Contraction speed of the last ${items.length} reps; last rep ${fmt(last.peak_flexion_velocity_dps, 0)} degrees per second peak, flexion time ${fmt(last.flexion_time_s * 1000, 0)} ms`
    : 'Contraction speed per rep: no reps yet');
}

function frame() {
  if (state.dirty) { state.dirty = false; drawAngle(); }
  requestAnimationFrame(frame);
}

// ---- following the newest session --------------------------------------------------------------

function setFollow(on) {
  state.follow = on;
  $('follow').checked = on;
}

// While nothing runs on screen, look for a session that started (the demo starts one after the other,
// and the first only once the analysis is prepared) and attach it; meanwhile say what the server does.
async function watch() {
  try {
    if (state.follow && (!state.session || state.ended)) {
      const [health, page] = await Promise.all([api('/health'), api('/sessions?status=running&limit=1')]);
      state.preparing = health.analysis === 'preparing';
      const running = listOf(page)[0];
      if (running && running.id !== state.session?.id) {
        await attach(running.id);
        loadHistory();
      } else {
        renderStatus();
      }
    }
  } catch (err) {
    // The next round tries again; the status line shows errors from the requests the user makes.
  }
  setTimeout(watch, POLL_MS);
}

// ---- start ---------------------------------------------------------------------------------------

$('demo-form').addEventListener('submit', startDemo);
$('stop').addEventListener('click', stopSession);
$('refresh').addEventListener('click', loadHistory);
$('follow').addEventListener('change', (ev) => { state.follow = ev.currentTarget.checked; });
$('compare-form').addEventListener('submit', compare);
for (const id of ['cmp-a', 'cmp-b']) $(id).addEventListener('change', (ev) => { ev.currentTarget.dataset.picked = '1'; });
for (const ext of ['csv', 'json']) $(`export-${ext}`).addEventListener('click', exportClick);
// Canvases are drawn at their CSS width: redraw when the layout changes it.
new ResizeObserver(() => { state.dirty = true; renderReps(); }).observe($('angle-canvas'));

renderAll();
requestAnimationFrame(frame);
api('/health').then((h) => { $('version').textContent = `hipflex ${h.version}`; }).catch((err) => {
  state.error = `Service unreachable: ${err.message}`;
  renderStatus();
});
// Pick up a session that is already running (e.g. started from the CLI or another tab).
loadHistory().then(watch);
