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
// * Nothing is drawn, and no frame asked for, while the view is scrolled out of sight; a lane's
//   canvas is repainted only while it can change (a new frame, dots on their way, a new size),
//   so a paused view costs the page nothing and leaves the main thread to the charts around it.
// * The root element carries what a test reads: data-frames, data-now, data-playing,
//   data-offered (lane 0) / data-offered1, data-adds-up, data-dots, data-fps, data-paints
//   (lane canvases repainted so far), data-k,
//   data-capacity, data-consumers, data-strategies, data-labels (what each lane is called: its
//   strategy, and what else sets it apart, e.g. "drop_newest, LIFO"), data-ended, data-error.

const FPS = 30;
const SPEEDS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];
const MAX_DOTS = 6000;          // per lane; the kernel's k keeps the real number near 1,000
const HISTORY = 900;            // chart points kept (30 s of frames)
const HEIGHT = 200;             // a lane's canvas (px): as tall as its counters beside it
const FONT = "15px sans-serif"; // the canvas's labels, legible from the back of a room
const CHART_H = 150;            // each small chart (px, axes included)
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

// what each lane is called (the status's labels; from a kernel without them, its strategy)
function laneLabels(st) {
  return st.labels || st.strategies;
}

function labelled(text, input, hint) {
  const id = "bpm-" + Math.random().toString(36).slice(2);
  input.id = id;
  const l = el("label", {for: id, text});
  if (hint) l.title = hint;
  return el("span", {class: "bpm-field"}, l, input);
}

// -- one lane: its canvas, its dots, its counters ----------------------------------------------
// A lane is one row: its canvas (the flow, left to right) and beside it a side column with the
// lane's title (its label, when it says more than the strategy, and its strategy menu) and the
// counters of the accounting identity (the table is the legend).
class Lane {
  constructor(index, box) {
    this.index = index;
    this.name = el("div", {class: "bpm-lane-label", hidden: ""});
    this.title = el("div", {class: "bpm-lane-title"}, this.name);
    this.canvas = el("canvas", {class: "bpm-canvas", role: "img"});
    this.stage = el("div", {class: "bpm-stage"}, this.canvas);
    this.table = el("table", {class: "bpm-counters"});
    this.rows = {};
    const add = (key, label, glyph) => {
      const tr = el("tr", {}, el("td", {class: "bpm-glyph bpm-g-" + key, text: glyph || ""}),
                    el("td", {text: label}), el("td", {class: "bpm-num", text: "0"}));
      this.table.append(tr);
      this.rows[key] = tr.lastChild;
    };
    add("offered", "offered by the producer", "");
    TERMS.forEach((t) => add(t, LABELS[t], GLYPH[t]));
    add("sum", "sum of the terms", "=");
    this.side = el("div", {class: "bpm-side"}, this.title, this.table);
    this.root = el("div", {class: "bpm-lane"}, this.stage, this.side);
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
    // the canvas is repainted only while something on it can change: a new frame, a new size,
    // dots still on their way (until `busyUntil`, page time in ms)
    this.dirty = true;
    this.busyUntil = 0;
    this.size();
    // the canvas follows its own column (the side column's width settles only once it is filled)
    this.resize = new ResizeObserver(() => this.size());
    this.resize.observe(this.stage);
  }

  size() {
    const w = Math.max(360, this.stage.clientWidth || 560);
    const h = HEIGHT;
    const r = window.devicePixelRatio || 1;
    if (this.W === w && this.H === h) return;
    this.W = w; this.H = h;
    this.canvas.width = Math.round(w * r); this.canvas.height = Math.round(h * r);
    this.canvas.style.width = w + "px"; this.canvas.style.height = h + "px";
    this.ctx.setTransform(r, 0, 0, r, 0, 0);
    this.layout();
    this.dirty = true;
  }

  // Everything sits on one horizontal line at y = mid: the producer at the left, the buffer (its
  // head on the right), the consumers, and the way out to the right edge. Shed messages bounce
  // back above that line, dropped and expired ones fall below it, the blocked backlog piles up
  // under the producer, the memory bar sits under the buffer.
  layout() {
    const W = this.W, H = this.H, mid = Math.round(H * 0.46);
    this.mid = mid;
    this.prod = {x: 6, y: mid - 26, w: 80, h: 52};
    this.pile = {x: 6, y: mid + 34, w: 80, h: H - mid - 58};
    const consW = 64, out = Math.max(60, Math.min(140, W * 0.12));
    const consX = W - out - consW;
    this.buf = {x: 118, w: Math.max(120, consX - 36 - 118), h: 2 * (mid - 34)};
    this.buf.y = mid - this.buf.h / 2;
    this.cons = {x: consX, y: 24, w: consW, h: H - 32};
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
    cols = Math.min(cols, n);
    // the cells centred on the line, the head end flush with the buffer's right end
    const y0 = Math.round(this.mid - (rows * s) / 2);
    this.cells = {n, s, cols, rows, y0};
    return this.cells;
  }

  // the centre of cell i (0 = the head, next to the consumers; filled right to left)
  cell(i) {
    const g = this.cells || this.grid(1);
    const col = i % g.cols, row = Math.floor(i / g.cols);
    return [this.buf.x + this.buf.w - (col + 0.5) * g.s, g.y0 + (row + 0.5) * g.s];
  }

  // consumer i's box: the column of consumers is centred on the line
  worker(i) {
    const n = Math.max(1, Math.min(24, (this.frame && this.frame.s.workers) || 1));
    const h = Math.min(44, this.cons.h / n);
    const top = Math.max(this.cons.y, this.mid - (n * h) / 2);
    return {x: this.cons.x, y: top + i * h, w: this.cons.w, h: h - 3};
  }

  spawn(kind, at, x0, y0, x1, y1) {
    const i = this.head;
    this.head = (this.head + 1) % MAX_DOTS;
    if (this.n < MAX_DOTS) this.n += 1;
    this.kind[i] = kind; this.t0[i] = at;
    this.x0[i] = x0; this.y0[i] = y0; this.x1[i] = x1; this.y1[i] = y1;
    this.seed[i] = Math.random();
    this.busyUntil = Math.max(this.busyUntil, at + DUR[kind]);
  }

  // the dots of one frame, spread over the real time it stands for
  take(f, now, realMs) {
    const prev = this.frame;
    this.frame = f;
    this.dirty = true;
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
    // pushed out of the head by what arrived (drop_oldest): down out of the buffer, then away
    emit("dropped_head", DROP, () => {
      const [cx, cy] = this.cell(0);
      return [cx, cy, cx, B.y + B.h + 6];
    });
    emit("shed", SHED, () => [px, jitter(), ex, py]);
    emit("retried", RETRY, () => [P.x + P.w / 2, P.y - 10, ex, py]);
    emit("sampled_out", SAMPLED, () => [px + 4, jitter(), px + 40, py]);
    // The frame does not say which consumer served which message; a consumer that finished one
    // during the frame (busy before, and now idle or on a message of another age) is the best
    // guess, round robin over all of them only when none is seen to finish.
    const done = [];
    if (prev && prev.s.w) {
      s.w.forEach((ws, i) => {
        const was = prev.s.w[i];
        if (was && was[0] && (!ws[0] || ws[1] < was[1] || Math.abs(ws[2] - was[2] - (f.t1 - prev.t1)) > 1e-3)) done.push(i);
      });
    }
    const fromWorker = () => {
      const i = this.nextWorker++;
      const w = this.worker(done.length ? done[i % done.length] : i % nw);
      return [w.x + w.w, w.y + w.h / 2, this.exitX, w.y + w.h / 2];
    };
    emit("delivered", DELIVER, fromWorker);
    emit("timed_out", LATE, fromWorker);
    emit("expired", EXPIRE, () => { const [cx, cy] = this.cell(0); return [cx, cy, cx, this.H - 4]; });
    emit("lost", LOST, () => {
      const inBuf = Math.random() < 0.85;
      const x = inBuf ? B.x + Math.random() * B.w : this.cons.x + Math.random() * this.cons.w;
      const g = this.cells;
      const y = inBuf ? g.y0 + Math.random() * g.rows * g.s : this.mid + (Math.random() - 0.5) * 60;
      const a = Math.random() * 2 * Math.PI;
      return [x, y, x + Math.cos(a) * 80, y + Math.sin(a) * 60];
    });
    return prev;
  }

  draw(now, speed) {
    const c = this.ctx, f = this.frame, W = this.W, H = this.H;
    c.clearRect(0, 0, W, H);
    if (!f) return 0;
    const s = f.s, k = Math.max(1, f.k), P = this.prod, B = this.buf, mid = this.mid;
    const down = s.down;
    c.font = FONT;
    c.textBaseline = "middle";
    // the line the messages travel: producer -> buffer -> consumers -> out
    c.strokeStyle = "#c8c8c8"; c.lineWidth = 2;
    c.beginPath(); c.moveTo(P.x + P.w, mid); c.lineTo(this.exitX, mid); c.stroke();
    c.beginPath(); c.moveTo(this.exitX - 8, mid - 5); c.lineTo(this.exitX, mid); c.lineTo(this.exitX - 8, mid + 5); c.stroke();
    c.fillStyle = "#444"; c.textAlign = "right";
    c.fillText("out", this.exitX, mid - 14);
    // producer
    c.fillStyle = "#f4f4f4"; c.strokeStyle = "#222"; c.lineWidth = 1.5;
    c.fillRect(P.x, P.y, P.w, P.h); c.strokeRect(P.x, P.y, P.w, P.h);
    c.fillStyle = "#222"; c.textAlign = "center";
    c.fillText("producer", P.x + P.w / 2, mid);
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
      c.fillText(`held ${fmt(s.held)}${cells > fit ? " (pile full)" : ""} · blocked ${wait.toFixed(1)} s`,
                 P.x, H - 9);
    }
    // buffer: capacity visible as slots (or, unbounded, memory filling toward its limit)
    const g = this.cells || this.grid(1);
    const depthCells = Math.ceil(s.depth / k);
    c.lineWidth = 1;
    const d = g.s - (g.s > 5 ? 2 : 1);
    for (let i = 0; i < g.n; i++) {
      const [x, y] = this.cell(i);
      c.fillStyle = i < depthCells ? this.color : "#fff";
      c.fillRect(x - d / 2, y - d / 2, d, d);
    }
    if (g.s > 5) {
      c.strokeStyle = "#9a9a9a"; c.beginPath();
      for (let i = 0; i < g.n; i++) { const [x, y] = this.cell(i); c.rect(x - d / 2, y - d / 2, d, d); }
      c.stroke();
    }
    const bx = B.x + B.w - g.cols * g.s, bw = g.cols * g.s;
    c.strokeStyle = "#222"; c.lineWidth = 2;
    c.strokeRect(bx - 3, g.y0 - 3, bw + 6, g.rows * g.s + 6);
    c.fillStyle = "#222"; c.textAlign = "right";
    const capText = s.capacity >= 0 ? `buffer ${fmt(s.depth)} / ${fmt(s.capacity)} slots`
      : `buffer ${fmt(s.depth)} (unbounded)`;
    // above the arc the admitted messages fly along
    c.fillText(capText, B.x + B.w + 3, Math.max(10, Math.min(g.y0 - 14, mid - 40)));
    const frac = Math.min(1, s.mem / Math.max(1, s.mem_limit));
    if (s.capacity < 0 || (s.mem_limit > 0 && frac >= 0.05)) {
      const y = g.y0 + g.rows * g.s + 10, w = B.w;
      c.strokeStyle = "#222"; c.lineWidth = 1; c.strokeRect(B.x, y, w, 10);
      c.fillStyle = frac > 0.8 ? "#D55E00" : "#999999"; c.fillRect(B.x, y, w * frac, 10);
      c.fillStyle = "#222"; c.textAlign = "right";
      c.fillText(`memory ${bytes(s.mem)} of ${bytes(s.mem_limit)}`, B.x + w, y + 22);
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
    const w0 = this.worker(0);
    c.fillStyle = "#222"; c.textAlign = "center";
    c.fillText(`${s.active} consumer${s.active === 1 ? "" : "s"}${s.workers > nw ? ` (${nw} drawn)` : ""}`,
               this.cons.x + this.cons.w / 2, Math.max(10, Math.min(w0.y - 12, mid - 40)));
    // down: everything greyed, crossed out, and the restart counting down (the words over the
    // dots, which would hide them)
    let say = null;
    if (down) {
      const wl = this.worker(nw - 1);
      const top = Math.min(g.y0, w0.y, mid - 40) - 6;
      const bottom = Math.max(g.y0 + g.rows * g.s, wl.y + wl.h, mid + 40) + 6;
      const x0 = B.x - 6, x1 = this.cons.x + this.cons.w + 6;
      c.fillStyle = "rgba(120,120,120,0.55)";
      c.fillRect(x0, top, x1 - x0, bottom - top);
      c.strokeStyle = "#D55E00"; c.lineWidth = 4; c.setLineDash([10, 6]);
      c.strokeRect(x0, top, x1 - x0, bottom - top);
      c.setLineDash([]);
      say = (x0 + x1) / 2;
    }
    const live = this.dots(now);
    if (say !== null) {
      const left = Math.max(0, (this.restart || 0) - (f.t1 - (this.downSince ?? f.t1)));
      c.fillStyle = "#fff"; c.strokeStyle = "#D55E00"; c.lineWidth = 2;
      c.fillRect(say - 150, mid - 24, 300, 48); c.strokeRect(say - 150, mid - 24, 300, 48);
      c.fillStyle = "#000"; c.font = "bold 18px sans-serif"; c.textAlign = "center";
      c.fillText("SERVER DOWN: out of memory", say, mid - 10);
      c.font = FONT;
      c.fillText(`restarting in ${left.toFixed(1)} s`, say, mid + 11);
    }
    return live;
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

  counters(f, label, color) {
    const t = f.tot;
    this.rows.offered.textContent = fmt(t.offered);
    let sum = 0;
    TERMS.forEach((k) => { sum += t[k] || 0; this.rows[k].textContent = fmt(t[k] || 0); });
    this.rows.sum.textContent = fmt(sum) + (sum === t.offered ? " = offered ✓" : " ≠ offered ✗");
    this.rows.sum.parentElement.classList.toggle("bpm-bad", sum !== t.offered);
    this.title.style.borderColor = color;
    this.canvas.setAttribute("aria-label", `messages of the ${label} lane: ${fmt(t.offered)} offered, ${fmt(t.delivered)} delivered`);
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
  // two rows on a projector: the clock and the hand-made load, then the settings
  bar.append(el("span", {class: "bpm-group"}, play, step, labelled("speed", speed)),
             el("span", {class: "bpm-group"}, labelled("burst of", burstN), burst),
             reset, el("span", {class: "bpm-break"}),
             el("span", {class: "bpm-group"}, labelled("producer rate", rate), rateOut),
             labelled("capacity (slots)", cap), labelled("consumers", cons),
             labelled("retries (shed)", retries));
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
  let visible = true, histDirty = false, paints = 0;
  const send = (msg) => model.send(msg);

  const setPlaying = (on) => {
    playing = on && !(model.get("status") || {}).ended;
    play.textContent = playing ? "❚❚ pause" : "▶ play";
    play.setAttribute("aria-pressed", String(playing));
    root.dataset.playing = String(playing);
    lastReq = performance.now() - 1000 / FPS;
  };

  // -- the small live charts (uPlot) ----------------------------------------------------------
  const chartWidth = () => Math.max(260, Math.floor((root.clientWidth || 900) / 2) - 10);
  const makeCharts = (st) => {
    plots.forEach((u) => u.destroy());
    charts.innerHTML = "";
    const n = st.strategies.length, names = laneLabels(st);
    hist = {t: [], depth: Array.from({length: n}, () => []), lat: Array.from({length: n}, () => [])};
    const w = chartWidth();
    // each chart's title line carries its legend (one line, not a legend row under the chart)
    const mk = (title, ylabel) => {
      const head = el("div", {class: "bpm-chart-title"}, el("span", {text: title}));
      if (n > 1) names.forEach((s, i) => head.append(el("span", {class: "bpm-key"},
        el("span", {class: "bpm-swatch", style: `background:${st.colors[i]}`}),
        s)));
      const cell = el("div", {class: "bpm-chart", style: `width:${w}px`}, head);
      charts.append(cell);
      const series = [{label: "time (s)"}].concat(names.map((s, i) => ({
        label: n > 1 ? `${s} (lane ${i + 1})` : s, stroke: st.colors[i], width: 2, spanGaps: true,
        points: {show: false}})));
      const axis = {font: "13px sans-serif", labelFont: "14px sans-serif", labelSize: 20};
      return new uPlot({width: w, height: CHART_H, series, legend: {show: false},
        cursor: {show: false}, scales: {x: {time: false}},
        axes: [{...axis, label: "simulated time (s)", size: 30},
               {...axis, label: ylabel, size: 52}]},
        [[]].concat(st.strategies.map(() => [])), cell);
    };
    plots = [mk("Queue depth", "messages"), mk("Latency when served", "seconds")];
    histDirty = true;
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
    histDirty = true;
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
      lanes.forEach((l) => l.resize.disconnect());
      lanesBox.innerHTML = ""; strategies.length = 0;
      lanes = st.strategies.map((_, i) => new Lane(i, lanesBox));
      st.strategies.forEach((_, i) => {
        const sel = el("select", {class: "bpm-strategy", "data-lane": String(i)});
        (st.choices || ["unbounded", "block", "drop_newest", "drop_oldest", "sample", "shed"])
          .forEach((s) => sel.append(el("option", {value: s, text: s})));
        sel.addEventListener("change", () => send({event: "set", lane: i, changes: {strategy: sel.value}}));
        strategies.push(sel);
        lanes[i].title.append(labelled(st.strategies.length > 1 ? `lane ${i + 1}` : "strategy", sel));
      });
      lanes.forEach((l) => l.size());
    }
    const names = laneLabels(st);
    st.strategies.forEach((s, i) => {
      lanes[i].color = st.colors[i]; lanes[i].restart = st.restart_s; lanes[i].label = names[i];
      lanes[i].name.textContent = names[i];
      lanes[i].name.hidden = names[i] === s;
      if (document.activeElement !== strategies[i]) strategies[i].value = s;
    });
    if (plotLanes !== st.strategies.length || JSON.stringify(names) !== root.dataset.labels) {
      makeCharts(st);
    }
    root.dataset.strategies = JSON.stringify(st.strategies);
    root.dataset.labels = JSON.stringify(names);
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
      lanes[i].counters(f, lanes[i].label || f.strategy, lanes[i].color);
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
    if (!visible) { requestAnimationFrame(loop); return; }
    if (playing && (!inflight || now - lastReq > 2000) && now - lastReq >= 1000 / FPS - 3) {
      const real = Math.min(0.25, (now - lastReq) / 1000);
      lastReq = now;
      inflight = true;
      send({event: "tick", real_s: real});
    }
    const t = performance.now();
    let live = 0, drawn = 0;
    lanes.forEach((l) => {
      if (!(playing || l.dirty || now <= l.busyUntil)) return;
      l.dirty = false;
      live += l.draw(now, speedNow);
      drawn += 1;
    });
    if (drawn) drawMs = 0.9 * drawMs + 0.1 * (performance.now() - t);
    if (histDirty && now > chartDue) { chartDraw(); histDirty = false; chartDue = now + 100; }
    if (drawn) { fpsCount += 1; paints += drawn; root.dataset.paints = String(paints); }
    if (now - fpsT >= 1000) {
      root.dataset.fps = String(Math.round((fpsCount * 1000) / (now - fpsT)));
      root.dataset.drawMs = drawMs.toFixed(2);
      fpsCount = 0; fpsT = now;
    }
    if (drawn) root.dataset.dots = String(live);
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
    if (hist) { hist.t.length = 0; hist.depth.forEach((a) => (a.length = 0)); hist.lat.forEach((a) => (a.length = 0)); histDirty = true; }
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

  const resize = new ResizeObserver(() => {
    lanes.forEach((l) => l.size());
    const w = chartWidth();
    plots.forEach((u) => {
      if (u.width !== w) { u.setSize({width: w, height: CHART_H}); u.root.parentElement.style.width = w + "px"; }
    });
  });
  resize.observe(root);
  // out of sight, out of work: no frames asked for, nothing drawn (it resumes where it was)
  const sight = new IntersectionObserver((entries) => {
    visible = entries.some((e) => e.isIntersecting);
    if (visible) { lanes.forEach((l) => { l.dirty = true; }); lastReq = performance.now() - 1000 / FPS; }
  });
  sight.observe(root);
  model.on("change:status", fromStatus);
  model.on("change:frames", fromFrames);
  fromStatus();
  fromFrames();
  setPlaying(false);
  requestAnimationFrame(loop);
  return () => {
    alive = false;
    resize.disconnect();
    sight.disconnect();
    lanes.forEach((l) => l.resize.disconnect());
    plots.forEach((u) => u.destroy());
    model.off("change:status", fromStatus);
    model.off("change:frames", fromFrames);
  };
}

export default {render};
