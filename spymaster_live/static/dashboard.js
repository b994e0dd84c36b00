// Spymaster live dashboard: plain SVG, no framework, no CDN. Reads /ws/stream (token from ?token=),
// reconnects with backoff, marks the data stale after 2 s without a payload.
"use strict";

const STALE_MS = 2000;
const HISTORY = 240; // break-score points kept per level (60 s at 4 payloads/s)
const SIGNAL_COLOR = { BREAK: "#e5484d", REJECT: "#30a46c", CONTESTED: "#f5a524", NEUTRAL: "#6b7785" };
const NS = "http://www.w3.org/2000/svg";
const history = new Map(); // level id -> [{ts, score}]
let lastPayload = null;
let lastReceived = 0;
let socket = null;
let retryMs = 250;

const $ = (id) => document.getElementById(id);
const fmt = (v, d = 2) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(d));
const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%");

function el(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function setConn(up, text) {
  const c = $("conn");
  c.textContent = text;
  c.className = "conn " + (up ? "up" : "down");
}

function connect() {
  const token = new URLSearchParams(location.search).get("token");
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/stream" +
    (token ? "?token=" + encodeURIComponent(token) : "");
  setConn(false, lastPayload ? "reconnecting" : "connecting");
  socket = new WebSocket(url);
  socket.onopen = () => { retryMs = 250; setConn(true, "connected"); };
  socket.onmessage = async (ev) => {
    const text = typeof ev.data === "string" ? ev.data : await ev.data.text();
    render(JSON.parse(text));
  };
  socket.onclose = () => {
    setConn(false, "disconnected");
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 4000);
  };
}

function render(p) {
  lastPayload = p;
  lastReceived = Date.now();
  $("instrument").textContent = p.instrument || "–";
  $("spot").textContent = fmt(p.spot);
  $("bid").textContent = fmt(p.bid);
  $("ask").textContent = fmt(p.ask);
  $("event-time").textContent = new Date(p.ts).toISOString().slice(11, 23) + " UTC";
  $("model-version").textContent = p.model_version ?? "none";
  $("call-wall").textContent = fmt(p.call_wall);
  $("put-wall").textContent = fmt(p.put_wall);
  $("gamma-flip").textContent = fmt(p.gamma_flip);
  for (const lv of p.levels) {
    const h = history.get(lv.id) || [];
    h.push({ ts: p.ts, score: lv.break_score_smooth });
    if (h.length > HISTORY) h.shift();
    history.set(lv.id, h);
  }
  drawLadder(p);
  drawLevels(p);
  drawGex(p);
  tickAge();
}

function drawLadder(p) {
  const svg = $("ladder");
  svg.replaceChildren();
  if (p.spot === null) return;
  const W = 360, H = 640, x0 = 60;
  const far = Math.max(6, ...p.levels.map((l) => Math.abs(l.price - p.spot) + 1));
  const lo = p.spot - far, hi = p.spot + far;
  const y = (px) => H - ((px - lo) / (hi - lo)) * H;
  const step = far > 12 ? 2 : 1;
  for (let px = Math.ceil(lo / step) * step; px <= hi; px += step) {
    svg.append(el("line", { x1: x0, x2: W, y1: y(px), y2: y(px), stroke: "#2a323d" }));
    svg.append(el("text", { x: 4, y: y(px) + 4, fill: "#8894a2", "font-size": 11 }, px.toFixed(2)));
  }
  const marks = [["call_wall", "#4cc3ff", "CALL WALL"], ["put_wall", "#c084fc", "PUT WALL"], ["gamma_flip", "#f5d90a", "FLIP"]];
  marks.forEach(([key, color, label], i) => {
    const v = p[key];
    if (v === null || v < lo || v > hi) return;
    svg.append(el("line", { x1: x0, x2: W, y1: y(v), y2: y(v), stroke: color, "stroke-dasharray": "6 4" }));
    // side by side, so walls on one strike stay readable
    svg.append(el("text", { x: W - 4 - 78 * i, y: y(v) - 3, fill: color, "font-size": 10, "text-anchor": "end" }, label));
  });
  if (p.bid !== null && p.ask !== null) {
    svg.append(el("rect", { x: x0, width: W - x0, y: y(p.ask), height: Math.max(1, y(p.bid) - y(p.ask)),
      fill: "#dde3ea", opacity: 0.12 }));
  }
  for (const lv of p.levels) {
    const c = SIGNAL_COLOR[lv.signal] || SIGNAL_COLOR.NEUTRAL;
    const g = el("g", { "data-level": lv.id });
    g.append(el("line", { x1: x0, x2: W, y1: y(lv.price), y2: y(lv.price), stroke: c, "stroke-width": 3 }));
    g.append(el("text", { x: x0 + 6, y: y(lv.price) - 5, fill: c, "font-size": 12, "font-weight": 700 },
      `${lv.kind} ${lv.price.toFixed(2)} · ${lv.signal}`));
    svg.append(g);
  }
  svg.append(el("line", { x1: x0, x2: W, y1: y(p.spot), y2: y(p.spot), stroke: "#dde3ea", "stroke-width": 1.5 }));
  svg.append(el("text", { x: W - 4, y: y(p.spot) + 14, fill: "#dde3ea", "font-size": 12, "text-anchor": "end" },
    `spot ${p.spot.toFixed(2)}`));
}

function meter(cls, frac, label) {
  const w = Math.max(0, Math.min(1, frac ?? 0)) * 100;
  return `<div class="row"><span>${label}</span></div><div class="meter ${cls}"><div style="width:${w}%"></div></div>`;
}

function spark(id) {
  const h = history.get(id) || [];
  if (h.length < 2) return "";
  const pts = h.map((d, i) => `${(i / (h.length - 1)) * 280},${36 - (d.score / 100) * 34 - 1}`).join(" ");
  return `<svg class="spark" viewBox="0 0 280 36" preserveAspectRatio="none">
    <line x1="0" x2="280" y1="${36 - 0.8 * 34 - 1}" y2="${36 - 0.8 * 34 - 1}" stroke="#e5484d" stroke-dasharray="3 3"/>
    <polyline points="${pts}" fill="none" stroke="#dde3ea" stroke-width="1.5"/></svg>`;
}

function drawLevels(p) {
  const box = $("levels");
  if (!p.levels.length) { box.innerHTML = '<p class="empty">no level near price</p>'; return; }
  const f = (lv) => lv.features || {};
  box.innerHTML = p.levels.map((lv) => {
    const ft = f(lv);
    const L = ft.score_liquidity ?? 0, Hd = ft.score_hedge, T = ft.score_tape ?? 0;
    const parts = Hd === null || Hd === undefined ? [["L", L], ["T", T]] : [["L", L], ["H", Hd], ["T", T]];
    const sum = parts.reduce((a, [, v]) => a + v, 0) || 1;
    const sweep = ft.tape_sweep_detected ? `${ft.tape_sweep_direction} ${fmt(ft.tape_sweep_notional_usd / 1e6, 2)}M$` : "none";
    const pb = lv.model ? lv.model.p_break : null;
    return `<div class="card ${lv.signal}" data-level-id="${lv.id}">
      <h3><span>${lv.kind} <b data-testid="level-price">${lv.price.toFixed(2)}</b></span>
        <span class="sig" data-testid="level-signal">${lv.signal}</span></h3>
      <div class="row"><span>${lv.direction} · distance</span><b data-testid="level-distance">${fmt(lv.distance)}</b></div>
      <div class="row"><span>break score (smoothed)</span><b data-testid="level-score">${fmt(lv.break_score_smooth, 1)}</b></div>
      ${meter("score", lv.break_score_smooth / 100, "")}
      <div class="row"><span>model P(break)</span><b data-testid="level-p-break">${pb === null ? "–" : pct(pb)}</b></div>
      ${meter("prob", pb, "")}
      <div class="row"><span>barrier</span><b data-testid="level-barrier">${lv.barrier.state ?? ft.barrier_state ?? "–"}</b></div>
      <div class="row"><span>tape imbalance</span><b data-testid="level-tape">${fmt(ft.tape_imbalance, 2)}</b></div>
      <div class="row"><span>sweep</span><b data-testid="level-sweep">${sweep}</b></div>
      <div class="row"><span>fuel</span><b data-testid="level-fuel">${ft.fuel_effect ?? "–"}</b></div>
      <div class="row"><span title="liquidity / hedging / tape components, 0-100">attribution</span><span>${parts.map(([k, v]) => `${k} ${fmt(v, 0)}`).join(" ")}</span></div>
      <div class="attr">${parts.map(([k, v]) => `<div class="${k}" style="width:${(100 * v) / sum}%"></div>`).join("")}</div>
      <div class="row"><span>prior touches ${lv.prior_touches} · ${lv.confidence}</span><span>score, last 60 s</span></div>
      ${spark(lv.id)}
    </div>`;
  }).join("");
}

function drawGex(p) {
  const svg = $("gex");
  svg.replaceChildren();
  const entries = Object.entries(p.gamma_by_strike || {}).map(([k, v]) => [Number(k), v]).sort((a, b) => a[0] - b[0]);
  if (!entries.length) {
    svg.append(el("text", { x: 10, y: 30, fill: "#8894a2" }, "no 0DTE options with an implied vol yet"));
    return;
  }
  const W = 900, H = 220, pad = 30;
  const kmin = entries[0][0], kmax = entries[entries.length - 1][0];
  const span = Math.max(1, kmax - kmin);
  const x = (k) => pad + ((k - kmin) / span) * (W - 2 * pad);
  const vmax = Math.max(...entries.map(([, v]) => Math.abs(v))) || 1;
  const y0 = H / 2, scale = (H / 2 - 20) / vmax;
  const bw = Math.max(2, ((W - 2 * pad) / entries.length) * 0.7);
  svg.append(el("line", { x1: 0, x2: W, y1: y0, y2: y0, stroke: "#2a323d" }));
  for (const [k, v] of entries) {
    const hgt = Math.abs(v) * scale;
    svg.append(el("rect", { x: x(k) - bw / 2, width: bw, y: v >= 0 ? y0 - hgt : y0, height: Math.max(1, hgt),
      fill: v >= 0 ? "#30a46c" : "#e5484d", "data-strike": k }));
  }
  const marks = [["call_wall", "#4cc3ff", "call wall"], ["put_wall", "#c084fc", "put wall"],
    ["gamma_flip", "#f5d90a", "flip"], ["spot", "#dde3ea", "spot"]];
  marks.forEach(([key, color, label], i) => {
    const v = p[key];
    if (v === null || v === undefined || v < kmin || v > kmax) return;
    svg.append(el("line", { x1: x(v), x2: x(v), y1: 10, y2: H - 14, stroke: color, "stroke-dasharray": "5 4" }));
    svg.append(el("text", { x: x(v) + 3, y: 12 + 13 * i, fill: color, "font-size": 11 }, `${label} ${v.toFixed(2)}`));
  });
  svg.append(el("text", { x: pad, y: H - 2, fill: "#8894a2", "font-size": 11 }, kmin.toFixed(0)));
  svg.append(el("text", { x: W - pad, y: H - 2, fill: "#8894a2", "font-size": 11, "text-anchor": "end" }, kmax.toFixed(0)));
}

function tickAge() {
  const a = $("age");
  if (!lastReceived) { a.textContent = "–"; return; }
  const ms = Date.now() - lastReceived;
  a.textContent = (ms / 1000).toFixed(1) + " s" + (ms > STALE_MS ? " · STALE" : "");
  a.className = ms > STALE_MS ? "stale" : "";
}

setInterval(tickAge, 250);
connect();
