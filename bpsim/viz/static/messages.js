// The page side of bpsim.viz.messages.MessageView: every message as a dot.
//
// * The page is the clock: while playing it asks the kernel for the next frame ({event: "tick"})
//   and asks again only once that frame has arrived (one request in flight at most), so a busy
//   kernel slows the view instead of piling up requests.
// * A frame per lane (trait `frames`): per-tick counts of every fate, the state (depth, capacity,
//   workers, held backlog, memory, down) and the totals of the accounting identity. The counts
//   become dots, one per `k` messages, spread over the real time the frame stands for.
// * One canvas per lane draws the producer, the buffer's slots, the consumers and the dots; uPlot
//   (vendored, see vendor/README.md) draws the small charts of queue depth and latency.
// * The root element carries what a test reads: data-frames, data-now, data-playing,
//   data-offered (lane 0) / data-offered1, data-adds-up, data-dots, data-fps, data-k,
//   data-capacity, data-consumers, data-strategies, data-ended, data-error.

const FPS = 30;
const SPEEDS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];
const MAX_DOTS = 6000;          // per lane; the kernel's k keeps the real number near 1,000
const HISTORY = 900;            // chart points kept (30 s of frames)
const TERMS = ["delivered", "timed_out", "expired", "dropped", "shed", "sampled_out",
               "lost_in_crash", "queue_end", "in_service_end", "producer_backlog_end"];
const LABELS = {delivered: "delivered", timed_out: "served too late", expired: "expired unserved",
                dropped: "dropped", shed: "shed (error)", sampled_out: "sampled out",
                lost_in_crash: "lost in crash", queue_end: "in the buffer",
                in_service_end: "being served", producer_backlog_end: "held by producer"};
// the glyph each term is drawn with (also in the counters, so the table is the legend)
const GLYPH = {delivered: "●", timed_out: "◆", expired: "○", dropped: "▼", shed: "□",
               sampled_out: "◌", lost_in_crash: "✕", queue_end: "▦", in_service_end: "▶",
               producer_backlog_end: "▤"};
// dot kinds
const ADMIT = 0, DROP = 1, SHED = 2, RETRY = 3, SAMPLED = 4, DELIVER = 5, LATE = 6, EXPIRE = 7,
      LOST = 8;
const FILL = {[DROP]: "#BDBDBD", [SHED]: "#FFFFFF", [SAMPLED]: "#E0E0E0", [DELIVER]: "#4D4D4D",
              [LATE]: "#8C8C8C", [EXPIRE]: "#FFFFFF", [LOST]: "#FFFFFF"};
const DUR = {[ADMIT]: 600, [DROP]: 900, [SHED]: 900, [RETRY]: 600, [SAMPLED]: 700,
             [DELIVER]: 600, [LATE]: 800, [EXPIRE]: 800, [LOST]: 900};

function fmt(v) {
  if (v == null || Number.isNaN(v)) return "–";
  return Math.round(v).toLocaleString("en-US");
}

function bytes(v) {
  const units = [[1e9, "GB"], [1e6, "MB"], [1e3, "kB"]];
  for (const [d, u] of units) if (v >= d) return `${+(v / d).toPrecision(3)} ${u}`;
  return `${Math.round(v)} B`;
}

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  kids.forEach((c) => e.append(c));
  return e;
}

function labelled(text, input, hint) {
  const id = "bpm-" + Math.random().toString(36).slice(2);
  input.id = id;
  const l = el("label", {for: id, text});
  if (hint) l.title = hint;
  return el("span", {class: "bpm-field"}, l, input);
}

// -- one lane: its canvas, its dots, its counters ----------------------------------------------
class Lane {
  constructor(index, box) {
    this.index = index;
    this.title = el("div", {class: "bpm-lane-title"});
    this.canvas = el("canvas", {class: "bpm-canvas", role: "img"});
    this.note = el("div", {class: "bpm-note"});
    this.table = el("table", {class: "bpm-counters"});
    this.rows = {};
    const add = (key, label, glyph) => {
      const tr = el("tr", {}, el("td", {class: "bpm-glyph bpm-g-" + key, text: glyph || ""}),
                    el("td", {text: label}), el("td", {class: "bpm-num", text: "0"}));
      this.table.append(tr);
      this.rows[key] = tr.lastChild;
    };
    add("offered", "offered (sent by the producer)", "");
    TERMS.forEach((t) => add(t, LABELS[t], GLYPH[t]));
    add("sum", "sum of the terms above", "=");
    this.root = el("div", {class: "bpm-lane"}, this.title, this.canvas, this.note, this.table);
    box.append(this.root);
    this.ctx = this.canvas.getContext("2d");
    // dots: a ring of structure-of-arrays
    this.n = 0;
    this.head = 0;
    this.kind = new Uint8Array(MAX_DOTS);
    this.t0 = new Float64Array(MAX_DOTS);
    this.x0 = new Float32Array(MAX_DOTS); this.y0 = new Float32Array(MAX_DOTS);
    this.x1 = new Float32Array(MAX_DOTS); this.y1 = new Float32Array(MAX_DOTS);
    this.seed = new Float32Array(MAX_DOTS);
    this.acc = {};
    this.frame = null;
    this.color = "#0072B2";
    this.downSince = null;
    this.heldSince = null;
    this.nextWorker = 0;
    this.size();
  }

  size() {
    const w = Math.max(320, this.root.clientWidth || 560);
    const h = 300;
    const r = window.devicePixelRatio || 1;
    if (this.W === w && this.H === h) return;
    this.W = w; this.H = h;
    this.canvas.width = Math.round(w * r); this.canvas.height = Math.round(h * r);
    this.canvas.style.width = w + "px"; this.canvas.style.height = h + "px";
    this.ctx.setTransform(r, 0, 0, r, 0, 0);
    this.layout();
  }

  layout() {
    const W = this.W, H = this.H, mid = H / 2 - 10;
    this.prod = {x: 8, y: mid - 32, w: 74, h: 64};
    this.pile = {x: 8, y: mid + 44, w: 74, h: H - mid - 70};
    this.buf = {x: 118, y: 40, w: Math.max(120, W * 0.58 - 118), h: H - 110};
    this.cons = {x: this.buf.x + this.buf.w + 40, y: 28, w: 64, h: H - 86};
    this.exitX = W - 6;
    this.cells = null;
  }

  // the grid of buffer cells for `n` cells (one per k messages)
  grid(n) {
    if (this.cells && this.cells.n === n) return this.cells;
    const b = this.buf;
    // a short buffer is one row (a queue reads as a line); a long one a grid, head at top right
    let s = n * 8 <= b.w ? Math.floor(b.w / n) : Math.floor(Math.sqrt((b.w * b.h) / Math.max(1, n)));
    s = Math.max(3, Math.min(22, s));
    let cols = Math.max(1, Math.floor(b.w / s)), rows = Math.ceil(n / cols);
    while (rows * s > b.h && s > 3) { s -= 1; cols = Math.max(1, Math.floor(b.w / s)); rows = Math.ceil(n / cols); }
    this.cells = {n, s, cols, rows};
    return this.cells;
  }

  // the centre of cell i (0 = the head, next to the consumers; filled right to left)
  cell(i) {
    const g = this.cells || this.grid(1);
    const col = i % g.cols, row = Math.floor(i / g.cols);
    return [this.buf.x + this.buf.w - (col + 0.5) * g.s, this.buf.y + (row + 0.5) * g.s];
  }

  worker(i) {
    const n = Math.max(1, Math.min(24, (this.frame && this.frame.s.workers) || 1));
    const h = Math.min(44, this.cons.h / n);
    return {x: this.cons.x, y: this.cons.y + i * h, w: this.cons.w, h: h - 3};
  }

  spawn(kind, at, x0, y0, x1, y1) {
    const i = this.head;
    this.head = (this.head + 1) % MAX_DOTS;
    if (this.n < MAX_DOTS) this.n += 1;
    this.kind[i] = kind; this.t0[i] = at;
    this.x0[i] = x0; this.y0[i] = y0; this.x1[i] = x1; this.y1[i] = y1;
    this.seed[i] = Math.random();
  }

  // the dots of one frame, spread over the real time it stands for
  take(f, now, realMs) {
    const prev = this.frame;
    this.frame = f;
    const k = Math.max(1, f.k);
    const s = f.s;
    if (s.down && this.downSince === null) this.downSince = f.t1;
    if (!s.down) this.downSince = null;
    if (s.held > 0 && this.heldSince === null) this.heldSince = f.t1;
    if (s.held === 0) this.heldSince = null;
    const cap = s.capacity;
    this.grid(Math.max(1, Math.ceil((cap >= 0 ? cap : Math.max(s.depth, 1)) / k)));
    const P = this.prod, B = this.buf;
    const px = P.x + P.w, py = P.y + P.h / 2, ex = B.x - 6;
    const depthCells = Math.ceil(s.depth / k);
    const nw = Math.max(1, Math.min(24, s.workers || 1));
    const counts = f.c || {};
    const ticks = Math.max(1, f.ticks);
    const emit = (name, kind, where) => {
      const a = counts[name];
      if (!a) return;
      for (let j = 0; j < a.length; j++) {
        this.acc[name] = (this.acc[name] || 0) + a[j];
        let m = Math.floor(this.acc[name] / k);
        this.acc[name] -= m * k;
        while (m-- > 0) {
          const at = now + (realMs * (j + Math.random())) / ticks;
          const [x0, y0, x1, y1] = where();
          this.spawn(kind, at, x0, y0, x1, y1);
        }
      }
    };
    const jitter = () => py + (Math.random() - 0.5) * 30;
    let tail = Math.max(0, depthCells - 1);
    emit("admitted", ADMIT, () => { const [cx, cy] = this.cell(Math.min(tail, (this.cells.n - 1)));
                                   tail = Math.max(0, tail - 1); return [px, jitter(), cx, cy]; });
    emit("dropped", DROP, () => [px, jitter(), ex, py]);
    emit("shed", SHED, () => [px, jitter(), ex, py]);
    emit("retried", RETRY, () => [P.x + P.w / 2, P.y - 10, ex, py]);
    emit("sampled_out", SAMPLED, () => [px + 4, jitter(), px + 40, py]);
    const fromWorker = () => {
      const w = this.worker(this.nextWorker++ % nw);
      return [w.x + w.w, w.y + w.h / 2, this.exitX, w.y + w.h / 2];
    };
    emit("delivered", DELIVER, fromWorker);
    emit("timed_out", LATE, fromWorker);
    emit("expired", EXPIRE, () => { const [cx, cy] = this.cell(0); return [cx, cy, cx, B.y + B.h + 30]; });
    emit("lost", LOST, () => {
      const inBuf = Math.random() < 0.85;
      const x = inBuf ? B.x + Math.random() * B.w : this.cons.x + Math.random() * this.cons.w;
      const y = inBuf ? B.y + Math.random() * B.h : this.cons.y + Math.random() * this.cons.h;
      const a = Math.random() * 2 * Math.PI;
      return [x, y, x + Math.cos(a) * 80, y + Math.sin(a) * 60];
    });
    return prev;
  }

  draw(now, speed) {
    const c = this.ctx, f = this.frame, W = this.W, H = this.H;
    c.clearRect(0, 0, W, H);
    if (!f) return 0;
    const s = f.s, k = Math.max(1, f.k), P = this.prod, B = this.buf;
    const down = s.down;
    c.font = "13px sans-serif";
    c.textBaseline = "middle";
    // producer
    c.fillStyle = "#f4f4f4"; c.strokeStyle = "#222"; c.lineWidth = 1.5;
    c.fillRect(P.x, P.y, P.w, P.h); c.strokeRect(P.x, P.y, P.w, P.h);
    c.fillStyle = "#222"; c.textAlign = "center";
    c.fillText("producer", P.x + P.w / 2, P.y + P.h / 2);
    // the producer's blocked backlog, piled up under it, and how long it has been blocked
    if (s.held > 0) {
      const cells = Math.ceil(s.held / k), g = 6, cols = Math.floor(P.w / g);
      const fit = Math.floor(this.pile.h / g) * cols;
      c.fillStyle = this.color;
      for (let i = 0; i < Math.min(cells, fit); i++) {
        const x = this.pile.x + (i % cols) * g + g / 2, y = this.pile.y + this.pile.h - Math.floor(i / cols) * g - g / 2;
        c.fillRect(x - 2, y - 2, 4, 4);
      }
      const wait = this.heldSince === null ? 0 : f.t1 - this.heldSince;
      c.fillStyle = "#222"; c.textAlign = "left";
      c.fillText(`held ${fmt(s.held)}${cells > fit ? " (pile full)" : ""}`, P.x, this.pile.y - 8);
      c.fillText(`blocked ${wait.toFixed(1)} s`, P.x, H - 8);
    }
    // buffer: capacity visible as slots (or, unbounded, memory filling toward its limit)
    const g = this.cells || this.grid(1);
    const depthCells = Math.ceil(s.depth / k);
    c.lineWidth = 1;
    for (let i = 0; i < g.n; i++) {
      const [x, y] = this.cell(i);
      const full = i < depthCells;
      c.fillStyle = full ? this.color : "#fff";
      c.strokeStyle = "#9a9a9a";
      const d = g.s - (g.s > 5 ? 2 : 1);
      c.fillRect(x - d / 2, y - d / 2, d, d);
      if (g.s > 5) c.strokeRect(x - d / 2, y - d / 2, d, d);
    }
    c.strokeStyle = "#222"; c.lineWidth = 2;
    c.strokeRect(B.x - 3, B.y - 3, B.w + 6, g.rows * g.s + 6);
    c.fillStyle = "#222"; c.textAlign = "left";
    const capText = s.capacity >= 0 ? `buffer ${fmt(s.depth)} / ${fmt(s.capacity)} slots`
      : `buffer ${fmt(s.depth)} (unbounded)`;
    c.fillText(capText, B.x, B.y - 16);
    if (s.capacity < 0 || s.mem_limit > 0) {
      const y = B.y + B.h + 14, w = B.w, frac = Math.min(1, s.mem / Math.max(1, s.mem_limit));
      c.strokeStyle = "#222"; c.lineWidth = 1; c.strokeRect(B.x, y, w, 10);
      c.fillStyle = frac > 0.8 ? "#D55E00" : "#999999"; c.fillRect(B.x, y, w * frac, 10);
      c.fillStyle = "#222";
      c.fillText(`memory ${bytes(s.mem)} of ${bytes(s.mem_limit)}`, B.x, y + 22);
    }
    // consumers, each with the message it serves and its progress
    const nw = Math.min(24, s.workers);
    for (let i = 0; i < nw; i++) {
      const w = this.worker(i), ws = s.w[i] || [false, 0, 0];
      c.fillStyle = "#fff"; c.strokeStyle = "#222"; c.lineWidth = 1.2;
      c.fillRect(w.x, w.y, w.w, w.h); c.strokeRect(w.x, w.y, w.w, w.h);
      if (ws[0] && !down) {
        c.fillStyle = "#E69F00"; c.fillRect(w.x + 1, w.y + w.h - 5, (w.w - 2) * ws[1], 4);
        c.fillStyle = this.color; c.beginPath();
        c.arc(w.x + 12, w.y + (w.h - 4) / 2, Math.min(6, w.h / 3), 0, 2 * Math.PI); c.fill();
      }
    }
    c.fillStyle = "#222"; c.textAlign = "left";
    c.fillText(`consumers ${s.active}${s.workers > nw ? ` (${nw} drawn)` : ""}`, this.cons.x - 10, 12);
    // down: everything greyed, crossed out, and the restart counting down
    if (down) {
      c.fillStyle = "rgba(120,120,120,0.55)";
      c.fillRect(B.x - 6, B.y - 6, this.cons.x + this.cons.w - B.x + 12, B.h + 12);
      c.strokeStyle = "#D55E00"; c.lineWidth = 4; c.setLineDash([10, 6]);
      c.strokeRect(B.x - 6, B.y - 6, this.cons.x + this.cons.w - B.x + 12, B.h + 12);
      c.setLineDash([]);
      c.fillStyle = "#000"; c.font = "bold 18px sans-serif"; c.textAlign = "center";
      const left = Math.max(0, (this.restart || 0) - (f.t1 - (this.downSince ?? f.t1)));
      c.fillText(`SERVER DOWN: out of memory, restarting (${left.toFixed(1)} s)`,
                 (B.x + this.cons.x + this.cons.w) / 2, B.y + B.h / 2);
      c.font = "13px sans-serif";
    }
    return this.dots(now);
  }

  dots(now) {
    const c = this.ctx;
    let live = 0;
    c.lineWidth = 1.2;
    for (let n = 0; n < this.n; n++) {
      const i = n;
      const kind = this.kind[i];
      const dur = DUR[kind];
      const u = (now - this.t0[i]) / dur;
      if (u < 0 || u > 1) continue;
      live += 1;
      const x0 = this.x0[i], y0 = this.y0[i], x1 = this.x1[i], y1 = this.y1[i];
      let x, y, alpha = 1;
      switch (kind) {
        case DROP: case SHED:                        // to the buffer's door, then away
          if (u < 0.5) { x = x0 + (x1 - x0) * u * 2; y = y0 + (y1 - y0) * u * 2; }
          else if (kind === DROP) { const v = u - 0.5; x = x1 + 20 * v; y = y1 + 900 * v * v; alpha = 1 - v; }
          else { const v = (u - 0.5) * 2; x = x1 + (x0 - x1) * v; y = y1 + (y0 - y1) * v - 40 * Math.sin(Math.PI * v); }
          break;
        case SAMPLED: x = x0 + (x1 - x0) * u; y = y0 - 10 * u; alpha = 1 - u; break;
        case LATE: x = x0 + (x1 - x0) * u; y = y0 + 30 * u * u; break;
        case EXPIRE: x = x0; y = y0 + (y1 - y0) * u; alpha = 1 - u; break;
        case LOST: x = x0 + (x1 - x0) * u; y = y0 + (y1 - y0) * u + 120 * u * u; alpha = 1 - u; break;
        default: { const e = u * (2 - u); x = x0 + (x1 - x0) * e; y = y0 + (y1 - y0) * e - 18 * Math.sin(Math.PI * u) * (kind === ADMIT ? 1 : 0); }
      }
      c.globalAlpha = alpha;
      c.fillStyle = FILL[kind] || this.color;
      c.strokeStyle = "#222";
      const r = 4;
      c.beginPath();
      switch (kind) {
        case DROP: c.moveTo(x - r, y - r); c.lineTo(x + r, y - r); c.lineTo(x, y + r); c.closePath(); break;
        case SHED: case RETRY: c.rect(x - r, y - r, 2 * r, 2 * r); break;
        case LATE: c.moveTo(x, y - r - 1); c.lineTo(x + r + 1, y); c.lineTo(x, y + r + 1); c.lineTo(x - r - 1, y); c.closePath(); break;
        case LOST: c.moveTo(x - r, y - r); c.lineTo(x + r, y + r); c.moveTo(x + r, y - r); c.lineTo(x - r, y + r); break;
        default: c.arc(x, y, r, 0, 2 * Math.PI);
      }
      if (kind === LOST) { c.lineWidth = 2; c.stroke(); c.lineWidth = 1.2; }
      else { c.fill(); if (kind !== ADMIT && kind !== RETRY && kind !== DELIVER) c.stroke(); }
      if (kind === SAMPLED) { c.setLineDash([2, 2]); c.stroke(); c.setLineDash([]); }
    }
    c.globalAlpha = 1;
    return live;
  }

  counters(f, strategy, color) {
    const t = f.tot;
    this.rows.offered.textContent = fmt(t.offered);
    let sum = 0;
    TERMS.forEach((k) => { sum += t[k] || 0; this.rows[k].textContent = fmt(t[k] || 0); });
    this.rows.sum.textContent = fmt(sum) + (sum === t.offered ? " = offered ✓" : " ≠ offered ✗");
    this.rows.sum.parentElement.classList.toggle("bpm-bad", sum !== t.offered);
    this.title.textContent = `${strategy}`;
    this.title.style.borderColor = color;
    this.canvas.setAttribute("aria-label", `messages of the ${strategy} lane: ${fmt(t.offered)} offered, ${fmt(t.delivered)} delivered`);
  }
}

// -- the view ------------------------------------------------------------------------------------
function render({model, el: host}) {
  const root = el("div", {class: "bpsim-messages", tabindex: "0", "data-lm-suppress-shortcuts": "true"});
  const bar = el("div", {class: "bpm-controls", role: "toolbar", "aria-label": "message view controls"});
  const play = el("button", {type: "button", class: "bpm-play", "aria-pressed": "false", text: "▶ play"});
  const step = el("button", {type: "button", class: "bpm-step", text: "step ▷|", title: "one frame (key .)"});
  const speed = el("select", {class: "bpm-speed"});
  SPEEDS.forEach((v) => speed.append(el("option", {value: String(v),
    text: v === 1 ? "×1 (real time)" : `×${v} (${Math.round(1 / v)}× slower)`})));
  const burstN = el("input", {type: "number", min: "1", max: "100000", step: "1", class: "bpm-burst-n"});
  const burst = el("button", {type: "button", class: "bpm-burst", title: "key b"});
  const rate = el("input", {type: "range", min: "0", max: "2000", step: "10", class: "bpm-rate"});
  const rateOut = el("output", {class: "bpm-rate-out"});
  const cap = el("input", {type: "number", min: "0", max: "100000", step: "1", class: "bpm-capacity"});
  const cons = el("input", {type: "number", min: "1", max: "64", step: "1", class: "bpm-consumers"});
  const retries = el("select", {class: "bpm-retries"});
  [0, 1, 2, 3].forEach((v) => retries.append(el("option", {value: String(v), text: String(v)})));
  const reset = el("button", {type: "button", class: "bpm-reset", text: "↺ reset"});
  const strategies = [];
  const stratBox = el("span", {class: "bpm-strats"});
  bar.append(play, step, labelled("speed", speed), labelled("burst of", burstN), burst,
             labelled("producer rate (msg/s)", rate), rateOut, labelled("capacity (slots)", cap),
             labelled("consumers", cons), stratBox, labelled("retries (shed)", retries), reset);
  const status = el("div", {class: "bpm-status", "aria-live": "polite"});
  const banner = el("div", {class: "bpm-banner", role: "alert", hidden: ""});
  const bannerText = el("span");
  const bannerReset = el("button", {type: "button", class: "bpm-banner-reset", text: "↺ reset"});
  banner.append(bannerText, bannerReset);
  const errorLine = el("div", {class: "bpm-error", role: "alert", hidden: ""});
  const lanesBox = el("div", {class: "bpm-lanes"});
  const charts = el("div", {class: "bpm-charts"});
  root.append(bar, status, banner, errorLine, lanesBox, charts);
  host.appendChild(root);

  let lanes = [], playing = false, inflight = false, lastReq = 0, framesIn = 0, speedNow = 0.1;
  let lastArrive = performance.now(), plots = [], plotLanes = -1, hist = null, chartDue = 0;
  let fpsCount = 0, fpsT = performance.now(), alive = true, drawMs = 0;
  const send = (msg) => model.send(msg);

  const setPlaying = (on) => {
    playing = on && !(model.get("status") || {}).ended;
    play.textContent = playing ? "❚❚ pause" : "▶ play";
    play.setAttribute("aria-pressed", String(playing));
    root.dataset.playing = String(playing);
    lastReq = performance.now() - 1000 / FPS;
  };

  // -- the small live charts (uPlot) ----------------------------------------------------------
  const makeCharts = (st) => {
    plots.forEach((u) => u.destroy());
    charts.innerHTML = "";
    const n = st.strategies.length;
    hist = {t: [], depth: Array.from({length: n}, () => []), lat: Array.from({length: n}, () => [])};
    const w = Math.max(260, Math.floor((root.clientWidth || 900) / 2) - 16);
    const mk = (title, ylabel) => {
      const cell = el("div", {class: "bpm-chart"});
      charts.append(cell);
      const series = [{label: "time (s)"}].concat(st.strategies.map((s, i) => ({
        label: n > 1 ? `${s} (lane ${i + 1})` : s, stroke: st.colors[i], width: 2, spanGaps: true,
        points: {show: false}})));
      return new uPlot({title, width: w, height: 170, series, legend: {live: false},
        cursor: {show: false}, scales: {x: {time: false}},
        axes: [{label: "simulated time (s)", size: 36}, {label: ylabel, size: 56}]},
        [[]].concat(st.strategies.map(() => [])), cell);
    };
    plots = [mk("Queue depth", "messages"), mk("Latency of messages served", "seconds")];
    plotLanes = n;
  };

  const chartPush = (frames) => {
    if (!hist) return;
    hist.t.push(frames[0].t1);
    frames.forEach((f, i) => {
      hist.depth[i].push(f.s.depth);
      const l = f.lat.slice().sort((a, b) => a - b);
      hist.lat[i].push(l.length ? l[Math.floor(l.length / 2)] : null);
    });
    if (hist.t.length > HISTORY) {
      hist.t.shift(); hist.depth.forEach((a) => a.shift()); hist.lat.forEach((a) => a.shift());
    }
  };

  const chartDraw = () => {
    if (!hist || !plots.length) return;
    plots[0].setData([hist.t].concat(hist.depth));
    plots[1].setData([hist.t].concat(hist.lat));
  };

  // -- lanes and controls from the status -----------------------------------------------------
  const fromStatus = () => {
    const st = model.get("status") || {};
    if (!st.strategies) return;
    if (lanes.length !== st.strategies.length) {
      lanesBox.innerHTML = ""; stratBox.innerHTML = ""; strategies.length = 0;
      lanes = st.strategies.map((_, i) => new Lane(i, lanesBox));
      st.strategies.forEach((_, i) => {
        const sel = el("select", {class: "bpm-strategy", "data-lane": String(i)});
        (st.choices || ["unbounded", "block", "drop_newest", "drop_oldest", "sample", "shed"])
          .forEach((s) => sel.append(el("option", {value: s, text: s})));
        sel.addEventListener("change", () => send({event: "set", lane: i, changes: {strategy: sel.value}}));
        strategies.push(sel);
        stratBox.append(labelled(st.strategies.length > 1 ? `strategy, lane ${i + 1}` : "strategy", sel));
      });
      lanes.forEach((l) => l.size());
    }
    st.strategies.forEach((s, i) => {
      lanes[i].color = st.colors[i]; lanes[i].restart = st.restart_s;
      if (document.activeElement !== strategies[i]) strategies[i].value = s;
    });
    if (plotLanes !== st.strategies.length || JSON.stringify(st.strategies) !== root.dataset.strategies) {
      makeCharts(st);
    }
    root.dataset.strategies = JSON.stringify(st.strategies);
    speedNow = st.speed;
    speed.value = String(st.speed);
    if (document.activeElement !== burstN) burstN.value = String(st.burst);
    burst.textContent = `send a burst of ${fmt(st.burst)}`;
    rate.max = String(Math.max(2000, Math.ceil(st.producer_rate * 2 / 100) * 100));
    if (document.activeElement !== rate) rate.value = String(st.producer_rate);
    rateOut.textContent = `${fmt(+rate.value)} msg/s`;
    if (document.activeElement !== cap) cap.value = String(st.capacity);
    if (document.activeElement !== cons) cons.value = String(st.consumers);
    retries.value = String(st.retries);
    root.dataset.ended = st.ended || "";
    banner.hidden = !st.ended;
    bannerText.textContent = st.ended || "";
    if (st.ended) setPlaying(false);
    errorLine.hidden = !st.error;
    errorLine.textContent = st.error || "";
    root.dataset.error = st.error || "";
    const consumerRate = st.consumer_rate * st.consumers;
    status.dataset.base = `serving ${fmt(consumerRate)} msg/s (${st.consumers} × ${fmt(st.consumer_rate)})`;
  };

  const fromFrames = () => {
    inflight = false;
    const frames = model.get("frames") || [];
    if (!frames.length || !lanes.length) return;
    const now = performance.now();
    const realMs = Math.min(250, Math.max(0, ((frames[0].t1 - frames[0].t0) / speedNow) * 1000));
    lastArrive = now;
    framesIn += 1;
    const st = model.get("status") || {};
    let addsUp = true;
    frames.forEach((f, i) => {
      if (!lanes[i]) return;
      lanes[i].take(f, now, realMs);
      lanes[i].counters(f, st.strategies ? st.strategies[i] : f.strategy, lanes[i].color);
      addsUp = addsUp && f.adds_up;
    });
    chartPush(frames);
    const f = frames[0], k = f.k;
    const slow = speedNow < 1 ? `slow motion, ${Math.round(1 / speedNow)}× slower than real time`
      : "real time";
    status.textContent = `t = ${f.t1.toFixed(2)} s simulated · ${slow} · ` +
      (k === 1 ? "1 dot = 1 message" : `1 dot = ${fmt(k)} messages (too many to draw one by one)`) +
      ` · ${status.dataset.base || ""}`;
    root.dataset.frames = String(framesIn);
    root.dataset.now = String(f.t1);
    root.dataset.k = String(k);
    root.dataset.offered = String(f.tot.offered);
    if (frames[1]) root.dataset.offered1 = String(frames[1].tot.offered);
    root.dataset.addsUp = String(addsUp);
    root.dataset.capacity = String(f.s.capacity);
    root.dataset.consumers = String(f.s.workers);
    root.dataset.seq = String(f.seq);
  };

  // -- the loop: ask for frames while playing, animate always -------------------------------------
  const loop = (now) => {
    if (!alive) return;
    if (playing && (!inflight || now - lastReq > 2000) && now - lastReq >= 1000 / FPS - 3) {
      const real = Math.min(0.25, (now - lastReq) / 1000);
      lastReq = now;
      inflight = true;
      send({event: "tick", real_s: real});
    }
    const t = performance.now();
    let live = 0;
    lanes.forEach((l) => { live += l.draw(now, speedNow); });
    drawMs = 0.9 * drawMs + 0.1 * (performance.now() - t);
    if (now > chartDue) { chartDraw(); chartDue = now + 100; }
    fpsCount += 1;
    if (now - fpsT >= 1000) {
      root.dataset.fps = String(Math.round((fpsCount * 1000) / (now - fpsT)));
      root.dataset.drawMs = drawMs.toFixed(2);
      fpsCount = 0; fpsT = now;
    }
    root.dataset.dots = String(live);
    requestAnimationFrame(loop);
  };

  // -- the controls --------------------------------------------------------------------------
  const sendBurst = () => {
    const n = Math.round(+burstN.value);
    send({event: "burst", n: n > 0 ? n : undefined});
  };
  play.addEventListener("click", () => setPlaying(!playing));
  step.addEventListener("click", () => { setPlaying(false); send({event: "step"}); });
  speed.addEventListener("change", () => send({event: "speed", speed: +speed.value}));
  burst.addEventListener("click", sendBurst);
  let rateTimer = null;
  const sendRate = () => { rateTimer = null; send({event: "set", changes: {producer_rate: +rate.value}}); };
  rate.addEventListener("input", () => {
    rateOut.textContent = `${fmt(+rate.value)} msg/s`;
    if (rateTimer === null) rateTimer = setTimeout(sendRate, 80);
  });
  cap.addEventListener("change", () => send({event: "set", changes: {capacity: Math.round(+cap.value)}}));
  cons.addEventListener("change", () => send({event: "set", changes: {consumers: Math.round(+cons.value)}}));
  retries.addEventListener("change", () => send({event: "set", changes: {retries: +retries.value}}));
  const doReset = () => {
    setPlaying(false);
    lanes.forEach((l) => { l.n = 0; l.head = 0; l.acc = {}; l.downSince = null; l.heldSince = null; });
    if (hist) { hist.t.length = 0; hist.depth.forEach((a) => (a.length = 0)); hist.lat.forEach((a) => (a.length = 0)); }
    send({event: "reset"});
  };
  reset.addEventListener("click", doReset);
  bannerReset.addEventListener("click", doReset);
  burstN.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); sendBurst(); } });

  // keys: space plays/pauses, b sends a burst, . steps (not while typing in a field)
  const typing = (t) => t && (t.tagName === "SELECT" || (t.tagName === "INPUT" && t.type !== "range"));
  root.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === " " && !typing(e.target)) {
      e.preventDefault(); e.stopPropagation();
      setPlaying(!playing);
    } else if ((e.key === "b" || e.key === "B") && !typing(e.target)) {
      e.preventDefault(); e.stopPropagation(); sendBurst();
    } else if (e.key === "." && !typing(e.target)) {
      e.preventDefault(); e.stopPropagation(); setPlaying(false); send({event: "step"});
    }
  });
  // a space on a focused button would click it too (a second toggle): the key handler decides
  root.addEventListener("keyup", (e) => { if (e.key === " " && !typing(e.target)) e.preventDefault(); });

  const resize = new ResizeObserver(() => lanes.forEach((l) => l.size()));
  resize.observe(root);
  model.on("change:status", fromStatus);
  model.on("change:frames", fromFrames);
  fromStatus();
  fromFrames();
  setPlaying(false);
  requestAnimationFrame(loop);
  return () => {
    alive = false;
    resize.disconnect();
    plots.forEach((u) => u.destroy());
    model.off("change:status", fromStatus);
    model.off("change:frames", fromFrames);
  };
}

export default {render};
