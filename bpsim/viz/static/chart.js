// The browser side of bpsim.viz.charts.Chart: uPlot (vendored, see vendor/README.md) draws one
// chart per panel from the data the kernel sends; this module only wires the widget to uPlot.
//
// * `spec` says what to draw (panels, series, labels, scales), `data` holds every series' numbers
//   (one float64 buffer, offsets in the spec; its first number is the frame's serial, so that
//   the widget model's byte-by-byte comparison of old and new buffers ends at once), `caption`
//   is the sentence under the charts.
// * Redraws happen at most once per animation frame, with the newest state: frames that arrive
//   faster than the page can paint are skipped, the last one is always drawn.
// * The kernel hears a drag through the sliders' own sync (ipywidgets sends one message per
//   kernel round trip, the newest value, while the slider moves). No message of our own: every
//   message to the kernel costs the page two status messages, and JupyterLab lays out its
//   toolbar for each; sending the values ourselves as well made dragging slower, not faster.
// * The root element carries what a test needs: data-draws (redraws so far), data-builds (how
//   many times the uPlot objects were made: once, unless the chart's shape changed),
//   data-values (the values drawn, JSON) and data-checksum (the sum of every finite number drawn).

function clock(h) {
  const m = Math.round(h * 60);
  const hh = Math.floor(m / 60) % 24, mm = ((m % 60) + 60) % 60;
  return `${String(hh).padStart(2, "0")}:${String(mm).padStart(2, "0")}`;
}

function grouped(v) {
  if (v == null) return "";
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString("en-US");
  if (a >= 10 || a === 0) return String(+v.toFixed(1));
  return String(+v.toPrecision(2));
}

function panelData(spec, all, p) {
  const x = all.subarray(p.x[0], p.x[0] + p.x[1]);
  const cols = [x];
  for (const s of p.series) {
    const src = all.subarray(s.y[0], s.y[0] + s.y[1]);
    // NaN marks "no point here" (series on other x values): uPlot wants null there.
    const col = new Array(src.length);
    for (let i = 0; i < src.length; i++) col[i] = Number.isNaN(src[i]) ? null : src[i];
    cols.push(col);
  }
  return cols;
}

function options(spec, p, width) {
  const font = `${spec.font_px}px sans-serif`;
  const bold = `bold ${spec.font_px}px sans-serif`;
  const yScale = {auto: !p.ylim};
  if (p.ylim) yScale.range = [p.ylim[0], p.ylim[1]];
  if (p.yscale === "log") Object.assign(yScale, {distr: 3, log: 10});
  if (p.yscale === "asinh") Object.assign(yScale, {distr: 4, asinh: p.linthresh || 1});
  const xScale = {time: false, auto: !p.xlim};
  if (p.xlim) xScale.range = [p.xlim[0], p.xlim[1]];
  const series = [{label: p.xlabel, value: (u, v) => (p.xformat === "clock" ? clock(v) : grouped(v))}];
  for (const s of p.series) {
    const one = {label: s.label, stroke: s.color, width: s.width, spanGaps: true,
                 value: (u, v) => grouped(v)};
    if (s.dash) one.dash = s.dash;
    if (s.kind === "span") {
      Object.assign(one, {fill: s.color + "33", stroke: "rgba(0,0,0,0)", width: 0, spanGaps: false,
                          fillTo: (u) => u.scales.y.min, points: {show: false}});
    } else if (s.kind === "points" || s.kind === "marker") {
      one.paths = () => null;
      one.points = {show: true, size: s.size, fill: s.color, stroke: s.kind === "marker" ? "#000" : s.color,
                    width: s.kind === "marker" ? 1 : 0, space: 0};
    } else {
      one.points = {show: false};
    }
    series.push(one);
  }
  const axis = (label) => ({label, font, labelFont: bold, labelSize: spec.font_px + 10,
                            stroke: "#222", grid: {stroke: "rgba(0,0,0,0.12)", width: 1},
                            ticks: {stroke: "rgba(0,0,0,0.3)", width: 1}});
  const xAxis = axis(p.xlabel);
  xAxis.values = (u, vals) => vals.map((v) => (p.xformat === "clock" ? clock(v) : grouped(v)));
  const yAxis = axis(p.ylabel);
  yAxis.size = spec.font_px * 4 + 14;
  yAxis.values = (u, vals) => vals.map(grouped);
  return {title: p.title, width, height: spec.height, series, axes: [xAxis, yAxis],
          scales: {x: xScale, y: yScale}, legend: {live: false}, cursor: {drag: {x: false, y: false}},
          pxAlign: 0};
}

function shape(spec) {
  // What forces new uPlot objects; anything else (data, ranges, titles, the legend's labels,
  // which carry numbers such as "memory limit (50 MB)") is updated in place. A new uPlot is a
  // new canvas, new DOM and a forced layout of the page: it must not happen on every step of a
  // drag.
  return JSON.stringify([spec.height, spec.font_px, spec.columns, spec.panels.map((p) => [
    p.yscale, p.linthresh, p.xformat, p.xlabel, p.ylabel, !!p.ylim, !!p.xlim,
    p.series.map((s) => [s.color, s.width, s.dash, s.kind, s.size])])]);
}

function checksum(all) {
  // all[0] is the frame's serial number, not a point (see charts.HEADER)
  let sum = 0;
  for (let i = 1; i < all.length; i++) if (Number.isFinite(all[i])) sum += all[i];
  return sum;
}

function render({model, el}) {
  const root = document.createElement("div");
  root.className = "bpsim-chart";
  const grid = document.createElement("div");
  grid.className = "bpsim-chart-panels";
  const caption = document.createElement("div");
  caption.className = "bpsim-caption";
  root.append(grid, caption);
  el.appendChild(root);
  let plots = [], built = null, scheduled = false, draws = 0, builds = 0;
  // The root's width, as the ResizeObserver last reported it: reading clientWidth in a redraw
  // would force the browser to lay out the whole notebook first.
  let rootWidth = 0;

  const width = () => {
    const cols = model.get("spec").columns || 1;
    if (!rootWidth) rootWidth = root.clientWidth || el.clientWidth || 900;   // first build only
    return Math.max(260, Math.floor(rootWidth / cols) - 8);
  };

  const draw = () => {
    scheduled = false;
    const spec = model.get("spec");
    const buf = model.get("data");
    if (!spec || !spec.panels || !buf) return;
    const all = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
    const key = shape(spec);
    grid.style.gridTemplateColumns = `repeat(${spec.columns || 1}, 1fr)`;
    if (key !== built) {
      plots.forEach((u) => u.destroy());
      grid.innerHTML = "";
      plots = spec.panels.map((p) => {
        const cell = document.createElement("div");
        // a fixed box per chart: a redraw then never lays out or repaints the page around it
        cell.style.height = `${spec.height + 2 * spec.font_px + 90}px`;
        grid.appendChild(cell);
        return new uPlot(options(spec, p, width()), panelData(spec, all, p), cell);
      });
      built = key;
      builds += 1;
    } else {
      spec.panels.forEach((p, i) => {
        const u = plots[i];
        u.batch(() => {
          u.setData(panelData(spec, all, p), true);
          if (p.ylim) u.setScale("y", {min: p.ylim[0], max: p.ylim[1]});
          if (p.xlim) u.setScale("x", {min: p.xlim[0], max: p.xlim[1]});
        });
        const t = u.root.querySelector(".u-title");
        if (t && t.textContent !== p.title) t.textContent = p.title;
        // Legend labels carry numbers ("memory limit (50 MB)"): keep them current.
        u.root.querySelectorAll(".u-legend .u-series").forEach((row, k) => {
          const label = row.querySelector(".u-label");
          const want = k === 0 ? p.xlabel : p.series[k - 1].label;
          if (u.series[k]) u.series[k].label = want;
          if (label && label.textContent !== want) label.textContent = want;
        });
      });
    }
    const text = model.get("caption") || "";
    caption.classList.toggle("bpsim-pre", !!model.get("preformatted"));
    if (caption.textContent !== text) caption.textContent = text;
    draws += 1;
    root.dataset.draws = String(draws);
    root.dataset.builds = String(builds);
    root.dataset.values = JSON.stringify(model.get("drawn") || {});
    root.dataset.checksum = String(checksum(all));
  };
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(draw);
    }
  };
  model.on("change:data", schedule);
  model.on("change:spec", schedule);
  model.on("change:caption", schedule);
  model.on("change:drawn", schedule);   // new values, the same picture: still a redraw
  draw();
  // One message, once per view: a page shows the chart, so the kernel may work out the settings
  // next to this one while nothing is asked (bpsim.viz.dashboard: AHEAD).
  model.send({event: "shown"});

  const resize = new ResizeObserver((entries) => {
    for (const e of entries) {
      if (e.target === caption) {
        // The sentence's box only grows: a sentence a line shorter while a slider moves must
        // not pull up (and lay out again) the whole notebook below the chart.
        const h = Math.ceil(e.borderBoxSize ? e.borderBoxSize[0].blockSize : e.contentRect.height);
        if (h > (parseFloat(caption.style.minHeight) || 0)) caption.style.minHeight = `${h}px`;
        continue;
      }
      const cw = Math.round(e.contentRect.width);
      if (!cw || cw === rootWidth) continue;
      rootWidth = cw;
      const w = width();
      plots.forEach((u) => { if (Math.abs(u.width - w) > 2) u.setSize({width: w, height: u.height}); });
    }
  });
  resize.observe(root);
  resize.observe(caption);

  return () => {
    resize.disconnect();
    plots.forEach((u) => u.destroy());
  };
}

export default {render};
