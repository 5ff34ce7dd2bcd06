// tradecore dashboard: plain JS, no build step. Data: the /ws stream (snapshots, then updates)
// and a 2 s poll of /api/latency, /api/feeds and /api/state. Values are written with
// textContent only (alert and reject texts come from outside).
"use strict";
const $ = (id) => document.getElementById(id);
const state = { equity: [], orders: [], alerts: [], positions: [], pnl: null, limits: null, ws: null, backoff: 500 };
const TOPICS = ["pnl", "positions", "orders", "fills", "risk", "alerts", "top", "strategies"];

function token() { return $("token").value.trim(); }
function headers(write) {
  const h = { "Content-Type": "application/json" };
  if (token()) h["Authorization"] = "Bearer " + token();
  return h;
}
function fmt(x, d = 2) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  return Number(x).toLocaleString(undefined, { minimumFractionDigits: d, maximumFractionDigits: d });
}
function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; }
function bar(tr, used, limit) {
  const td = document.createElement("td");
  if (!limit) { td.textContent = "no limit"; td.className = "muted"; tr.appendChild(td); return; }
  const f = Math.min(1, Math.abs(used) / limit);
  const b = document.createElement("div"); b.className = "bar" + (f > 0.9 ? " bad" : f > 0.7 ? " warn" : "");
  const i = document.createElement("i"); i.style.width = (f * 100).toFixed(1) + "%";
  const s = document.createElement("span"); s.textContent = (f * 100).toFixed(0) + "%";
  b.append(i, s); td.appendChild(b); tr.appendChild(td);
}
function rows(tableId, items, fill) {
  const tb = $(tableId).querySelector("tbody"); tb.replaceChildren();
  for (const it of items) { const tr = document.createElement("tr"); fill(tr, it); tb.appendChild(tr); }
}

// -- renderers -------------------------------------------------------------------------------
function renderPnl(p) {
  state.pnl = p;
  $("quote").textContent = p.quote;
  $("equity").textContent = fmt(p.equity);
  const pnl = p.equity - p.initial_equity;
  $("pnl").textContent = (pnl >= 0 ? "+" : "") + fmt(pnl);
  $("pnl").className = pnl >= 0 ? "pos" : "neg";
  $("realized").textContent = fmt(p.realized); $("unrealized").textContent = fmt(p.unrealized); $("fees").textContent = fmt(p.fees);
  state.equity.push([p.ts_ns, p.equity]); if (state.equity.length > 2000) state.equity.shift();
  drawCurve(); renderGross();
}
function renderGross() {
  const p = state.pnl; if (!p) return;
  const g = $("gross"); g.replaceChildren();
  const t = document.createElement("table"); const tr = document.createElement("tr");
  cell(tr, "gross " + fmt(p.gross_exposure) + " / " + (p.max_gross_notional ? fmt(p.max_gross_notional) : "no limit"));
  bar(tr, p.gross_exposure, p.max_gross_notional);
  cell(tr, "net " + fmt(p.net_exposure)); bar(tr, p.net_exposure, p.max_net_notional);
  t.appendChild(tr); g.appendChild(t);
}
function drawCurve() {
  const c = $("curve"), ctx = c.getContext("2d"), pts = state.equity;
  ctx.clearRect(0, 0, c.width, c.height);
  if (pts.length < 2) return;
  let lo = Infinity, hi = -Infinity;
  for (const [, v] of pts) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
  ctx.strokeStyle = "#4ea1ff"; ctx.lineWidth = 1.5; ctx.beginPath();
  pts.forEach(([, v], i) => {
    const x = (i / (pts.length - 1)) * (c.width - 60) + 55, y = c.height - 10 - ((v - lo) / (hi - lo)) * (c.height - 20);
    i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
  });
  ctx.stroke(); ctx.fillStyle = "#7d8794"; ctx.font = "11px sans-serif";
  ctx.fillText(fmt(hi, 0), 2, 12); ctx.fillText(fmt(lo, 0), 2, c.height - 4);
}
function renderPositions(ps) {
  state.positions = ps;
  rows("positions", ps, (tr, p) => {
    cell(tr, p.venue + ":" + p.symbol); cell(tr, p.lots); cell(tr, fmt(p.notional));
    bar(tr, p.lots, p.max_position_lots); bar(tr, p.notional, p.max_notional);
  });
}
function renderRisk(r) {
  if (r.trading_state) {
    const s = $("state"); s.textContent = r.trading_state; s.className = "badge " + r.trading_state;
    $("state-reason").textContent = r.reason || "";
  }
  if (r.kill_switch) {
    const k = $("killstate"), armed = r.kill_switch.armed;
    k.textContent = armed ? "kill switch armed" : "kill switch TRIPPED"; k.className = "badge " + (armed ? "armed" : "tripped");
    $("rearm").disabled = armed;
  }
}
function renderTop(items) {
  rows("top", items, (tr, t) => { cell(tr, t.venue + ":" + t.symbol); cell(tr, fmt(t.bid, 2)); cell(tr, fmt(t.ask, 2)); cell(tr, fmt(t.age_s, 3)); });
}
function renderStrategies(items) {
  rows("strategies", items, (tr, s) => {
    cell(tr, s.id); cell(tr, s.kind); cell(tr, s.running ? "yes" : "stopped", s.running ? "pos" : "neg");
    cell(tr, Object.entries(s.counters).map(([k, v]) => k + " " + v).join(", "));
  });
}
function renderOrders() {
  rows("orders", state.orders.slice(0, 50), (tr, o) => {
    cell(tr, o.client_order_id); cell(tr, o.venue + ":" + o.symbol); cell(tr, o.side); cell(tr, o.qty); cell(tr, o.price);
    cell(tr, o.status + (o.deny_reason && o.deny_reason !== "NONE" ? " " + o.deny_reason : "")); cell(tr, o.strategy_id);
  });
}
function renderAlerts() {
  const ul = $("alerts"); ul.replaceChildren();
  for (const a of state.alerts.slice(0, 100)) {
    const li = document.createElement("li"); li.className = a.severity;
    li.textContent = new Date(a.ts_ns / 1e6).toLocaleTimeString() + "  [" + a.kind + "] " + a.message;
    ul.appendChild(li);
  }
}
function renderLatency(l) {
  rows("latency", Object.entries(l), (tr, [stage, p]) => { cell(tr, stage); cell(tr, fmt(p.p50, 1)); cell(tr, fmt(p.p90, 1)); cell(tr, fmt(p.p99, 1)); });
}
function renderFeeds(fs) {
  rows("feeds", fs, (tr, f) => {
    cell(tr, f.venue); cell(tr, f.messages === null ? "–" : f.messages.toLocaleString()); cell(tr, f.book_updates.toLocaleString());
    cell(tr, fmt(f.max_book_age_s, 3)); cell(tr, Object.entries(f.problems).map(([k, v]) => k + " " + v).join(", ") || "none");
    cell(tr, f.valid ? "ok" : "RESYNC", f.valid ? "pos" : "neg");
  });
}

// -- stream ----------------------------------------------------------------------------------
function onMessage(m) {
  if (m.type === "error") { console.warn("stream:", m.error); return; }
  if (!m.topic) return;
  const snap = m.type === "snapshot", d = m.data;
  switch (m.topic) {
    case "pnl": renderPnl(d); break;
    case "positions": renderPositions(d); break;
    case "risk": renderRisk(d); break;
    case "top": renderTop(d); break;
    case "strategies": if (snap) renderStrategies(d); else poll(); break;
    case "orders":
      if (snap) state.orders = d; else { state.orders = state.orders.filter((o) => o.client_order_id !== d.client_order_id); state.orders.unshift(d); }
      state.orders = state.orders.slice(0, 200); renderOrders(); break;
    case "alerts": if (snap) state.alerts = d; else state.alerts.unshift(d); renderAlerts(); break;
  }
}
function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  state.ws = ws;
  ws.onopen = () => {
    $("conn").textContent = "live"; $("conn").className = "badge on"; state.backoff = 500;
    if (token()) ws.send(JSON.stringify({ op: "auth", token: token() }));
    ws.send(JSON.stringify({ op: "subscribe", topics: TOPICS }));   // a fresh snapshot on every (re)connect
  };
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
  ws.onclose = () => {
    $("conn").textContent = "reconnecting"; $("conn").className = "badge off";
    setTimeout(connect, state.backoff); state.backoff = Math.min(10000, state.backoff * 2);
  };
}

// -- polling ---------------------------------------------------------------------------------
async function getJson(path) {
  const r = await fetch(path, { headers: headers(false) });
  if (!r.ok) throw new Error(path + " " + r.status);
  return r.json();
}
async function poll() {
  try {
    const [lat, feeds, st, strat] = await Promise.all([getJson("/api/latency"), getJson("/api/feeds"), getJson("/api/state"), getJson("/api/strategies")]);
    renderLatency(lat); renderFeeds(feeds); renderRisk(st); renderStrategies(strat);
  } catch (e) { console.warn(e); }
}

// -- kill switch -----------------------------------------------------------------------------
async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: headers(true), body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
  return j;
}
$("kill").onclick = () => { $("modal-error").textContent = ""; $("modal").classList.remove("hidden"); };
$("kill-cancel").onclick = () => $("modal").classList.add("hidden");
$("kill-confirm").onclick = async () => {
  try {
    renderRisk(await post("/api/kill", { flatten: $("flatten").checked, reason: "dashboard" }));
    $("modal").classList.add("hidden");
  } catch (e) { $("modal-error").textContent = e.message; }
};
$("rearm").onclick = async () => {
  if (!confirm("Re-arm the kill switch and resume trading?")) return;
  try { renderRisk(await post("/api/rearm", { reason: "dashboard" })); } catch (e) { alert(e.message); }
};
$("token").value = sessionStorage.getItem("tradecore-token") || "";
$("token").onchange = () => { sessionStorage.setItem("tradecore-token", token()); if (state.ws) state.ws.close(); };

connect(); poll(); setInterval(poll, 2000);
