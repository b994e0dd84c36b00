// Spymaster live dashboard: plain SVG and one canvas, no framework, no CDN. Reads /ws/stream (token
// from ?token=), reconnects with backoff, marks the data stale after 2 s without a payload. On each
// (re)connect it fetches the heatmap's history (/api/depth) and, for a file replay, the replay state
// (/api/replay: the controls then drive it).
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
const PRINTS_FADE_MS = 10000; // prints on the ladder fade out over 10 s of event time
const HEAT_TICKS = 48; // heatmap rows each side of the center price (0.25-point ticks)
const MAX_FRAMES = 3600; // 15 min at 4 payloads/s, as the gateway keeps
let frames = []; // [ts_ms, book, prints] per payload, oldest first
let recentPrints = []; // [ts_ms, price, size, aggressor] of the last PRINTS_FADE_MS
let selectedLevel = null;
const stats = { messages: 0, draws: 0, bytes: 0, firstMs: 0, renderMs: 0, heatMs: 0 };
let drawScheduled = false;
let replayPaused = false; // a paused file replay: no payloads is expected, not stale
window.spymaster = {
  stats,
  frames: () => frames,
  // The heatmap's cells, as drawn: per frame, price (points) -> resting size (contracts), both sides.
  heatCells: (n) => frames.slice(-n).map((f) => {
    const [ticks, sizes] = packed(f), cells = {};
    ticks.forEach((t, i) => { cells[(t * 0.25).toFixed(2)] = sizes[i]; });
    return { ts: f[0], cells };
  }),
};

const ET = new Intl.DateTimeFormat("en-US", { timeZone: "America/New_York", hour12: false,
  hour: "2-digit", minute: "2-digit", second: "2-digit" });
const etTime = (ms) => ET.format(new Date(ms)) + "." + String(Math.floor(ms % 1000)).padStart(3, "0") + " ET";

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
  socket.onopen = () => { retryMs = 250; setConn(true, "connected"); loadDepth(); pollReplay(); };
  socket.onmessage = async (ev) => {
    const text = typeof ev.data === "string" ? ev.data : await ev.data.text();
    stats.messages += 1;
    stats.bytes += text.length; // the payload is ASCII JSON: characters = bytes
    if (!stats.firstMs) stats.firstMs = Date.now();
    ingest(JSON.parse(text));
    // Draw at most once per animation frame: a fast replay or a jump delivers payloads far faster
    // than 4 a second, and drawing each would leave the socket unread (the gateway drops a client
    // that falls 64 payloads behind).
    if (!drawScheduled) {
      drawScheduled = true;
      requestAnimationFrame(() => {
        drawScheduled = false;
        const t0 = performance.now();
        render(lastPayload);
        stats.renderMs += performance.now() - t0;
        stats.draws += 1;
      });
    }
  };
  socket.onclose = () => {
    replayPaused = false; // the server is gone: its data is stale whatever it said before
    setConn(false, "disconnected");
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 4000);
  };
}

function ingest(p) {
  // Everything a payload adds to the page's state; drawing is separate (`render`).
  lastPayload = p;
  lastReceived = Date.now();
  for (const lv of p.levels) {
    const h = history.get(lv.id) || [];
    h.push({ ts: p.ts, score: lv.break_score_smooth });
    if (h.length > HISTORY) h.shift();
    history.set(lv.id, h);
  }
  if (p.book) {
    if (frames.length && frames[frames.length - 1][0] >= p.ts) frames = frames.filter((f) => f[0] < p.ts);
    frames.push([p.ts, p.book, p.prints || []]);
    if (frames.length > MAX_FRAMES) frames.splice(0, frames.length - MAX_FRAMES);
  }
  recentPrints = recentPrints.concat(p.prints || []).filter((t) => t[0] > p.ts - PRINTS_FADE_MS);
}

function render(p) {
  $("instrument").textContent = p.instrument || "–";
  $("spot").textContent = fmt(p.spot);
  $("bid").textContent = fmt(p.bid);
  $("ask").textContent = fmt(p.ask);
  $("event-time").textContent = etTime(p.ts);
  $("model-version").textContent = p.model_version ?? "none";
  $("call-wall").textContent = fmt(p.call_wall);
  $("put-wall").textContent = fmt(p.put_wall);
  $("gamma-flip").textContent = fmt(p.gamma_flip);
  if (selectedLevel === null || !p.levels.some((l) => l.id === selectedLevel)) {
    selectedLevel = p.levels.length ? p.levels[0].id : null;
  }
  drawLadder(p);
  drawLevels(p);
  drawGex(p);
  const t0 = performance.now();
  drawHeatmap(p);
  stats.heatMs += performance.now() - t0;
  drawFlow(p);
  drawNeighbors(p);
  tickAge();
}

async function loadDepth() {
  try {
    const r = await fetch("/api/depth");
    if (!r.ok) return;
    const hist = await r.json();
    const last = frames.length ? frames[frames.length - 1][0] : -Infinity;
    // The history, then anything the stream already delivered after it.
    frames = hist.concat(frames.filter((f) => f[0] > (hist.length ? hist[hist.length - 1][0] : -Infinity)));
    if (frames.length > MAX_FRAMES) frames.splice(0, frames.length - MAX_FRAMES);
    if (lastPayload && last !== -Infinity) drawHeatmap(lastPayload);
  } catch (e) { /* the stream continues; the heatmap fills from it */ }
}

function drawLadder(p) {
  const svg = $("ladder");
  svg.replaceChildren();
  if (p.spot === null) return;
  const W = 360, H = 640, x0 = 60;
  const bookFar = p.book ? Math.max(0, ...[...p.book.bid_px, ...p.book.ask_px].filter((v) => v !== null)
    .map((v) => Math.abs(v - p.spot) + 0.5)) : 0;
  const far = Math.max(6, bookFar, ...p.levels.map((l) => Math.abs(l.price - p.spot) + 1));
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
  // Resting size at each MBP-10 price: bids left of the middle, asks right of it.
  const mid = x0 + (W - x0) / 2, half = (W - x0) / 2 - 30, rowH = Math.max(2, (0.25 / (hi - lo)) * H - 1);
  if (p.book) {
    const sizes = [...p.book.bid_sz, ...p.book.ask_sz].filter((v) => v);
    const smax = Math.max(1, ...sizes);
    for (const [side, pxs, szs, color, dir] of [["bid", p.book.bid_px, p.book.bid_sz, "#2f6fbf", -1],
      ["ask", p.book.ask_px, p.book.ask_sz, "#b8434a", 1]]) {
      pxs.forEach((px, i) => {
        if (px === null || px < lo || px > hi) return;
        const sz = szs[i] || 0, w = (sz / smax) * half;
        const g = el("g", { "data-book-side": side, "data-px": px.toFixed(2), "data-sz": sz });
        g.append(el("rect", { x: dir < 0 ? mid - w : mid, width: Math.max(1, w), y: y(px) - rowH / 2, height: rowH,
          fill: color, opacity: 0.75 }));
        g.append(el("text", { x: dir < 0 ? mid - w - 3 : mid + w + 3, y: y(px) + 4, fill: "#dde3ea", "font-size": 10,
          "text-anchor": dir < 0 ? "end" : "start" }, String(sz)));
        svg.append(g);
      });
    }
  }
  // The last prints at each price, fading with age: summed size per price and aggressor.
  const agg = new Map();
  for (const [ts, px, sz, a] of recentPrints) {
    const k = px.toFixed(2) + "|" + a;
    const cur = agg.get(k) || { px, a, sz: 0, ts };
    cur.sz += sz; cur.ts = Math.max(cur.ts, ts);
    agg.set(k, cur);
  }
  for (const { px, a, sz, ts } of agg.values()) {
    if (px < lo || px > hi) continue;
    const age = Math.min(1, (p.ts - ts) / PRINTS_FADE_MS);
    svg.append(el("text", { x: a > 0 ? W - 4 : W - 46, y: y(px) + 4, "font-size": 11, "font-weight": 700,
      "text-anchor": "end", fill: a > 0 ? "#30a46c" : a < 0 ? "#e5484d" : "#8894a2", opacity: (1 - age).toFixed(2),
      "data-print-px": px.toFixed(2), "data-print-aggressor": a }, String(sz)));
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
    return `<div class="card ${lv.signal}${lv.id === selectedLevel ? " selected" : ""}" data-level-id="${lv.id}">
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

function drawHeatmap(p) {
  const cv = $("heatmap");
  const ctx = cv.getContext("2d");
  const W = cv.width, H = cv.height;
  const minutes = Number($("heat-minutes").value);
  const end = p.ts, start = end - minutes * 60000;
  const center = Math.round((p.spot ?? 0) / 0.25) * 0.25;
  const rows = 2 * HEAT_TICKS + 1, rowH = H / rows;
  const y = (px) => (HEAT_TICKS - Math.round((px - center) / 0.25)) * rowH;
  const x = (ts) => ((ts - start) / (end - start)) * W;
  const img = ctx.createImageData(W, H);
  const buf = new Uint32Array(img.data.buffer);
  buf.fill(0xff120e0b); // background (ABGR)
  let lo = frames.length;
  while (lo > 0 && frames[lo - 1][0] >= start) lo--;
  const shown = frames.slice(lo).filter((f) => f[0] <= end);
  const sample = [];
  for (let i = 0; i < shown.length; i += 8) for (const v of packed(shown[i])[1]) sample.push(v);
  sample.sort((a, b) => a - b);
  const top = Math.max(1, sample.length ? sample[Math.floor(0.99 * (sample.length - 1))] : 1);
  const centerTick = Math.round(center / 0.25);
  const palette = Array.from({ length: 64 }, (_, i) => heatColor(i / 63));
  for (let i = 0; i < shown.length; i++) {
    const x0 = Math.max(0, Math.floor(x(shown[i][0])));
    const x1 = Math.min(W, Math.ceil(x(i + 1 < shown.length ? shown[i + 1][0] : end)) + 1);
    const [ticks, sizes] = packed(shown[i]);
    for (let j = 0; j < ticks.length; j++) {
      const row = HEAT_TICKS - (ticks[j] - centerTick);
      if (row < 0 || row >= rows) continue;
      const c = palette[Math.round(63 * Math.min(1, Math.sqrt(sizes[j] / top)))];
      const y0 = Math.floor(row * rowH), y1 = Math.min(H, Math.ceil((row + 1) * rowH));
      for (let r = y0; r < y1; r++) buf.fill(c, r * W + x0, r * W + x1);
    }
  }
  ctx.putImageData(img, 0, 0);
  for (const [, , prints] of shown) {
    for (const [ts, px, sz, a] of prints) {
      const yy = y(px) + rowH / 2;
      if (yy < 0 || yy > H || ts < start) continue;
      ctx.beginPath();
      ctx.arc(x(ts), yy, Math.min(12, 1.5 + Math.sqrt(sz)), 0, 2 * Math.PI);
      ctx.fillStyle = a > 0 ? "rgba(48,164,108,0.8)" : a < 0 ? "rgba(229,72,77,0.8)" : "rgba(136,148,162,0.8)";
      ctx.fill();
    }
  }
  const marks = p.levels.map((l) => [l.price, SIGNAL_COLOR[l.signal] || SIGNAL_COLOR.NEUTRAL, l.kind])
    .concat([[p.call_wall, "#4cc3ff", "call wall"], [p.put_wall, "#c084fc", "put wall"], [p.gamma_flip, "#f5d90a", "flip"]]);
  ctx.font = "11px system-ui";
  for (const [px, color, label] of marks) {
    if (px === null || px === undefined) continue;
    const yy = y(px) + rowH / 2;
    if (yy < 0 || yy > H) continue;
    ctx.strokeStyle = color; ctx.setLineDash([6, 4]); ctx.beginPath(); ctx.moveTo(0, yy); ctx.lineTo(W, yy); ctx.stroke();
    ctx.setLineDash([]); ctx.fillStyle = color; ctx.fillText(`${label} ${px.toFixed(2)}`, 4, yy - 3);
  }
  ctx.fillStyle = "#8894a2";
  ctx.fillText(`${etTime(start).slice(0, 8)}`, 4, H - 4);
  ctx.textAlign = "right"; ctx.fillText(`${etTime(end).slice(0, 8)}`, W - 4, H - 4); ctx.textAlign = "left";
  ctx.fillText(`${(center + HEAT_TICKS * 0.25).toFixed(2)}`, W - 60, 12);
  ctx.fillText(`${(center - HEAT_TICKS * 0.25).toFixed(2)}`, W - 60, H - 16);
}

const packedCells = new WeakMap(); // frame -> [tick indices, sizes]: computed once per frame

function packed(frame) {
  let pc = packedCells.get(frame);
  if (!pc) {
    const b = frame[1], ticks = [], sizes = [];
    if (b) {
      for (const [pxs, szs] of [[b.bid_px, b.bid_sz], [b.ask_px, b.ask_sz]]) {
        pxs.forEach((px, i) => { if (px !== null && szs[i]) { ticks.push(Math.round(px / 0.25)); sizes.push(szs[i]); } });
      }
    }
    pc = [Int32Array.from(ticks), Float64Array.from(sizes)];
    packedCells.set(frame, pc);
  }
  return pc;
}

function heatColor(f) {
  // dark blue -> cyan -> yellow -> white, as ABGR for the Uint32 pixel buffer
  const stops = [[11, 14, 18], [20, 60, 140], [0, 190, 220], [250, 220, 40], [255, 255, 255]];
  const t = f * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(t)), u = t - i;
  const [r, g, b] = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * u));
  return (0xff << 24) | (b << 16) | (g << 8) | r;
}

function drawFlow(p) {
  const box = $("flow");
  const rows = Object.entries(p.option_flow || {}).map(([k, v]) => [Number(k), v]).sort((a, b) => b[0] - a[0]);
  if (!rows.length) { box.innerHTML = '<p class="empty">no 0DTE option trades near spot yet</p>'; return; }
  const n = (v) => Math.round(v).toLocaleString("en-US");
  const atm = rows.reduce((best, r) => (Math.abs(r[0] - p.spot) < Math.abs(best[0] - p.spot) ? r : best), rows[0])[0];
  const cell = (v, c, cls) => `<td class="${cls}" data-col="${c}">${n(v[c])} <small>· ${n(v[c + "_1m"])}</small></td>`;
  box.innerHTML = `<table><tr><th>strike</th><th>call buy</th><th>call sell</th><th>put buy</th><th>put sell</th>
    <th title="dealer gamma exposure, USD per 1% move">dealer GEX</th></tr>` +
    rows.map(([k, v]) => `<tr data-testid="flow-row" data-strike="${k}" class="${k === atm ? "atm" : ""}"><td>${k}</td>
      ${cell(v, "call_buy", "buy")}${cell(v, "call_sell", "sell")}${cell(v, "put_buy", "buy")}${cell(v, "put_sell", "sell")}
      <td data-col="gex">${gexText((p.gamma_by_strike || {})[String(k)])}</td></tr>`).join("") + "</table>";
}

function gexText(v) {
  return v === null || v === undefined ? "–" : (v / 1e6).toFixed(1) + "M";
}

function drawNeighbors(p) {
  const box = $("neighbors");
  const lv = p.levels.find((l) => l.id === selectedLevel);
  $("neighbors-level").textContent = lv ? `(${lv.kind} ${lv.price.toFixed(2)})` : "(click a level)";
  if (!lv) { box.innerHTML = '<p class="empty">no level near price</p>'; return; }
  const hits = lv.model ? lv.model.neighbors : null;
  if (!hits) {
    box.innerHTML = '<p class="empty">no champion model with a touch index: similar touches come from a trained model (make demo trains one)</p>';
    return;
  }
  box.innerHTML = `<p><b data-testid="neighbors-break-share">${pct(lv.model.neighbors_break_share)}</b> of the
    ${hits.length} nearest past touches broke</p><table><tr><th>date</th><th>kind</th><th>outcome</th>
    <th>to threshold</th><th>distance</th></tr>` + hits.map((h) => `<tr data-testid="neighbor-row" data-touch-id="${h.touch_id}">
    <td>${h.date}</td><td>${h.level_kind}</td><td class="${h.outcome === "BREAK" ? "sell" : h.outcome === "BOUNCE" ? "buy" : ""}">${h.outcome}</td>
    <td>${h.time_to_threshold_s === null || h.time_to_threshold_s === undefined ? "–" : fmt(h.time_to_threshold_s, 0) + " s"}</td>
    <td>${h.distance === null ? "–" : Number(h.distance).toPrecision(3)}</td></tr>`).join("") + "</table>";
}

async function replayCommand(body) {
  const r = await fetch("/api/replay", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body) });
  const out = await r.json();
  if (!r.ok) { $("replay-state").textContent = out.detail || "refused"; return; }
  showReplay(out);
}

function showReplay(st) {
  $("replay").hidden = false;
  replayPaused = st.paused && !st.done;
  $("replay-toggle").textContent = st.paused ? "resume" : "pause";
  if (document.activeElement !== $("replay-speed")) $("replay-speed").value = String(st.speed);
  const what = st.done ? "replayed" : st.paused ? "paused" : st.jump_to_ns ? "jumping" : `${st.speed || "max"}${st.speed ? "x" : ""}`;
  $("replay-state").textContent = `${what} · ${st.event_ns ? etTime(st.event_ns / 1e6) : "–"}`;
}

async function pollReplay() {
  try {
    const r = await fetch("/api/replay");
    if (r.ok) showReplay(await r.json());
    else if (r.status === 409) { $("replay").hidden = true; return; }
  } catch (e) { /* reconnect logic handles a gone server */ }
  if (socket && socket.readyState === WebSocket.OPEN) setTimeout(pollReplay, 1000);
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
  if (replayPaused) { a.textContent = "paused"; a.className = ""; return; }
  a.textContent = (ms / 1000).toFixed(1) + " s" + (ms > STALE_MS ? " · STALE" : "");
  a.className = ms > STALE_MS ? "stale" : "";
}

$("replay-toggle").onclick = () => replayCommand({ action: $("replay-toggle").textContent === "pause" ? "pause" : "resume" });
$("replay-speed").onchange = () => replayCommand({ action: "speed", speed: Number($("replay-speed").value) });
$("replay-jump").onclick = () => replayCommand({ action: "jump", time_et: $("replay-jump-time").value.trim() });
$("levels").onclick = (ev) => {
  const card = ev.target.closest("[data-level-id]");
  if (card && lastPayload) { selectedLevel = card.dataset.levelId; drawLevels(lastPayload); drawNeighbors(lastPayload); }
};
$("heat-minutes").onchange = () => lastPayload && drawHeatmap(lastPayload);
setInterval(tickAge, 250);
connect();
