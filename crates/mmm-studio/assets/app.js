// mmm studio: a hand-written single-page app over the studio's JSON API (docs/studio.md).
// No framework, no network beyond the studio itself.
"use strict";

const COLORS = ["#1f6feb", "#e36209", "#2da44e", "#8250df", "#cf222e", "#0a7f8c", "#bf8700", "#57606a", "#d63384", "#6f42c1"];
const SVGNS = "http://www.w3.org/2000/svg";
const main = () => document.getElementById("main");

// ---------- small helpers ----------
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c.nodeType ? c : document.createTextNode(String(c)));
  return e;
}
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children.flat()) if (c) e.append(c.nodeType ? c : document.createTextNode(String(c)));
  return e;
}
// Numbers for people: thousands separators and `digits` decimals (the displayed precision).
// Rounded as Number.prototype.toFixed rounds (the exact binary value, halves away from zero),
// so a script can check a displayed number against another tool's output.
function fmt(x, digits = 1) {
  if (x === null || x === undefined || !isFinite(x)) return "–";
  const s = Math.abs(x).toFixed(digits);
  const [int, frac] = s.split(".");
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (x < 0 && Number(s) !== 0 ? "-" : "") + grouped + (frac ? "." + frac : "");
}
function fmtSig(x) {
  if (x === null || x === undefined || !isFinite(x)) return "–";
  const a = Math.abs(x);
  const d = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return fmt(x, d);
}
const pct = (x) => (x === null || x === undefined || !isFinite(x) ? "–" : fmt(100 * x, 1) + "%");
async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, init);
  const j = await r.json().catch(() => ({ error: "not JSON" }));
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}
const tip = (() => {
  let t;
  return {
    show(text, ev) {
      if (!t) { t = el("div", { class: "tip", id: "tip" }); document.body.append(t); }
      t.textContent = text; t.style.display = "block";
      t.style.left = ev.clientX + 12 + "px"; t.style.top = ev.clientY + 12 + "px";
    },
    hide() { if (t) t.style.display = "none"; },
  };
})();
function badge(ok, yes, no) { return el("span", { class: "badge " + (ok ? "ok" : "no"), text: ok ? yes : no }); }

// ---------- charts ----------
// Horizontal interval chart: one row per label, a dot at the mean and a bar over [lower, upper].
function intervalChart(rows, opts = {}) {
  const w = opts.width || 560, rowH = 26, left = 110, right = 20, top = 10;
  const h = top + rows.length * rowH + 28;
  const vals = rows.flatMap((r) => [r.lower, r.upper, r.mean]).filter(isFinite);
  let lo = Math.min(0, ...vals), hi = Math.max(...vals, 0);
  if (hi === lo) hi = lo + 1;
  const x = (v) => left + ((v - lo) / (hi - lo)) * (w - left - right);
  const s = svg("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
  s.append(svg("line", { x1: x(0), x2: x(0), y1: top, y2: h - 24, stroke: "#bbb" }));
  rows.forEach((r, i) => {
    const y = top + i * rowH + rowH / 2;
    const g = svg("g", { class: "row" });
    g.append(svg("text", { x: left - 8, y: y + 4, "text-anchor": "end", "font-size": 12 }, r.label));
    if (isFinite(r.lower) && isFinite(r.upper)) g.append(svg("line", { x1: x(r.lower), x2: x(r.upper), y1: y, y2: y, stroke: r.color || COLORS[0], "stroke-width": 4, "stroke-linecap": "round", opacity: 0.45 }));
    if (isFinite(r.mean)) g.append(svg("circle", { cx: x(r.mean), cy: y, r: 5, fill: r.color || COLORS[0] }));
    const hit = svg("rect", { x: 0, y: y - rowH / 2, width: w, height: rowH, fill: "transparent" });
    hit.addEventListener("mousemove", (ev) => tip.show(`${r.label}: ${fmtSig(r.mean)} [${fmtSig(r.lower)}, ${fmtSig(r.upper)}]`, ev));
    hit.addEventListener("mouseleave", tip.hide);
    g.append(hit);
    s.append(g);
  });
  for (const v of [lo, (lo + hi) / 2, hi]) s.append(svg("text", { x: x(v), y: h - 8, "text-anchor": "middle", "font-size": 11, fill: "#5d6b7a" }, fmtSig(v)));
  return el("div", { class: "chart" }, s);
}

// Weekly lines with toggles and a hover readout: series = {name: [values]}, dates = [iso].
function timeChart(dates, series, names, opts = {}) {
  const wrap = el("div", {});
  const on = Object.fromEntries(names.map((n) => [n, opts.initiallyOn ? opts.initiallyOn(n) : true]));
  const toggles = el("div", { class: "toggles" });
  names.forEach((n, i) => {
    const cb = el("input", { type: "checkbox", "data-series": n });
    cb.checked = on[n];
    cb.addEventListener("change", () => { on[n] = cb.checked; draw(); });
    toggles.append(el("label", {}, cb, el("span", { class: "swatch", "data-c": i }), n));
  });
  toggles.querySelectorAll(".swatch").forEach((sw) => (sw.style.background = COLORS[+sw.dataset.c % COLORS.length]));
  const box = el("div", { class: "chart" });
  wrap.append(toggles, box);
  function draw() {
    const w = opts.width || 1100, h = 300, l = 70, r = 10, t = 10, b = 28;
    const shown = names.filter((n) => on[n]);
    const vals = shown.flatMap((n) => series[n].filter((v) => v !== null));
    let lo = Math.min(0, ...vals), hi = Math.max(1e-12, ...vals);
    const n = dates.length;
    const x = (i) => l + (i / Math.max(1, n - 1)) * (w - l - r);
    const y = (v) => t + (1 - (v - lo) / (hi - lo || 1)) * (h - t - b);
    const s = svg("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}` });
    for (const v of [lo, (lo + hi) / 2, hi]) {
      s.append(svg("line", { x1: l, x2: w - r, y1: y(v), y2: y(v), stroke: "#eee" }));
      s.append(svg("text", { x: l - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#5d6b7a" }, fmtSig(v)));
    }
    for (const i of [0, Math.floor(n / 2), n - 1]) s.append(svg("text", { x: x(i), y: h - 8, "text-anchor": "middle", "font-size": 11, fill: "#5d6b7a" }, dates[i] || ""));
    names.forEach((name, k) => {
      if (!on[name]) return;
      const d = series[name].map((v, i) => (v === null ? "" : `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`)).join("");
      s.append(svg("path", { d, fill: "none", stroke: COLORS[k % COLORS.length], "stroke-width": 1.6 }));
    });
    const cursor = svg("line", { x1: 0, x2: 0, y1: t, y2: h - b, stroke: "#999", "stroke-dasharray": "3 3", visibility: "hidden" });
    s.append(cursor);
    const hit = svg("rect", { x: l, y: t, width: w - l - r, height: h - t - b, fill: "transparent" });
    hit.addEventListener("mousemove", (ev) => {
      const rect = s.getBoundingClientRect();
      const px = ((ev.clientX - rect.left) / rect.width) * w;
      const i = Math.max(0, Math.min(n - 1, Math.round(((px - l) / (w - l - r)) * (n - 1))));
      cursor.setAttribute("x1", x(i)); cursor.setAttribute("x2", x(i)); cursor.setAttribute("visibility", "visible");
      tip.show(dates[i] + "\n" + shown.map((nm) => `${nm}: ${fmtSig(series[nm][i])}`).join("\n"), ev);
    });
    hit.addEventListener("mouseleave", () => { tip.hide(); cursor.setAttribute("visibility", "hidden"); });
    s.append(hit);
    box.replaceChildren(s);
  }
  draw();
  return wrap;
}

// Histogram of draws with vertical markers [{value, label, color}].
function histogram(h, markers) {
  const w = 520, ht = 200, l = 10, r = 10, t = 10, b = 30;
  const s = svg("svg", { width: w, height: ht, viewBox: `0 0 ${w} ${ht}`, id: "lift-histogram" });
  if (!h.counts.length) return s;
  const lo = Math.min(h.edges[0], ...markers.map((m) => m.value));
  const hi = Math.max(h.edges[h.edges.length - 1], ...markers.map((m) => m.value));
  const x = (v) => l + ((v - lo) / (hi - lo || 1)) * (w - l - r);
  const max = Math.max(...h.counts);
  h.counts.forEach((c, i) => {
    const x0 = x(h.edges[i]), x1 = x(h.edges[i + 1]);
    const bar = svg("rect", { x: x0, width: Math.max(1, x1 - x0 - 1), y: t + (1 - c / max) * (ht - t - b), height: (c / max) * (ht - t - b), fill: "#9ec5fe" });
    bar.addEventListener("mousemove", (ev) => tip.show(`${fmtSig(h.edges[i])} – ${fmtSig(h.edges[i + 1])}: ${c} draws`, ev));
    bar.addEventListener("mouseleave", tip.hide);
    s.append(bar);
  });
  for (const m of markers) {
    s.append(svg("line", { x1: x(m.value), x2: x(m.value), y1: t, y2: ht - b, stroke: m.color, "stroke-width": 2 }));
    s.append(svg("text", { x: x(m.value) + 3, y: t + 12, "font-size": 11, fill: m.color }, m.label));
  }
  s.append(svg("text", { x: l, y: ht - 8, "font-size": 11, fill: "#5d6b7a" }, fmtSig(lo)));
  s.append(svg("text", { x: w - r, y: ht - 8, "font-size": 11, fill: "#5d6b7a", "text-anchor": "end" }, fmtSig(hi)));
  return s;
}

// ---------- views ----------
async function viewRuns() {
  const m = main();
  m.replaceChildren(el("h1", { text: "Runs" }), el("p", { class: "muted", text: "Every run directory under the studio's runs directory, verified as `mmm inspect` verifies it." }));
  const { runs } = await api("/api/runs");
  const body = el("tbody");
  for (const r of runs) {
    const period = r.period && r.period[0] ? `${r.period[0]} – ${r.period[1]}` : "–";
    body.append(el("tr", { "data-run": r.name },
      el("td", {}, el("a", { href: `#/run/${encodeURIComponent(r.name)}` }, r.name)),
      el("td", { text: r.model || "–" }),
      el("td", { text: r.verified ? period : "–" }),
      el("td", {}, r.verified ? el("span", { class: "badge " + (r.gate === "passed" ? "ok" : "warn"), text: r.gate }) : "–"),
      el("td", { text: r.verified && r.created ? r.created.replace("T", " ").slice(0, 16) : "–" }),
      el("td", {}, r.verified ? badge(true, "verified", "") : el("span", {}, badge(false, "", "NOT verified"), ` ${r.problems} problem(s)`)),
      el("td", {}, r.verified ? el("a", { href: `#/plan/${encodeURIComponent(r.name)}` }, "plan") : "")));
  }
  m.append(el("table", { id: "runs" }, el("thead", {}, el("tr", {}, ["run", "model", "data period", "gate", "created", "lineage", ""].map((h) => el("th", { text: h })))), body));
  if (!runs.length) m.append(el("p", { class: "muted", text: "No runs yet: `mmm run --out RUNS/NAME ...` writes one." }));
  const verified = runs.filter((r) => r.verified).map((r) => r.name);
  if (verified.length >= 2) {
    const a = el("select", { id: "cmp-a" }, verified.map((n) => el("option", { value: n, text: n })));
    const b = el("select", { id: "cmp-b" }, verified.map((n) => el("option", { value: n, text: n })));
    b.selectedIndex = 1;
    m.append(el("h2", { text: "Compare two runs" }), el("div", { class: "row" }, a, "→", b,
      el("button", { onclick: () => (location.hash = `#/compare/${encodeURIComponent(a.value)}/${encodeURIComponent(b.value)}`) }, "Compare")));
  }
}

function unverifiedPage(p) {
  return el("div", { class: "alert", id: "unverified" },
    el("h2", { text: "This run fails verification" }),
    el("p", { text: "The studio shows no numbers from a run whose lineage does not verify (the check of `mmm inspect`): an output changed or is missing, a stage is incomplete, or stages come from different runs or specs. Rerun the stages, or run `mmm inspect` on it for details." }),
    el("ul", {}, p.problems.map((x) => el("li", { text: x }))));
}

async function viewRun(name) {
  const m = main();
  const p = await api(`/api/runs/${encodeURIComponent(name)}`);
  m.replaceChildren(el("h1", { text: `${name}` }), el("p", { class: "muted" }, p.model || ""));
  if (!p.verified) { m.append(unverifiedPage(p)); return; }
  m.append(el("div", { class: "row" },
    badge(true, "lineage verified", ""),
    el("span", { class: "badge " + (p.gate === "passed" ? "ok" : "warn"), text: "gate: " + p.gate }),
    el("span", { class: "muted", text: `data ${p.period[0]} – ${p.period[1]}` }),
    el("a", { href: `#/plan/${encodeURIComponent(name)}` }, "Open the planner →")));
  const ch = p.channels;
  const row = (metric) => ch.order.map((c, i) => { const v = (ch.metrics[c] || {})[metric] || []; return { label: c, mean: v[0], lower: v[1], upper: v[2], color: COLORS[i % COLORS.length] }; });
  m.append(el("div", { class: "grid2" },
    el("div", { class: "card" }, el("h3", { text: "ROAS per channel (mean and interval)" }), intervalChart(row("roas"))),
    el("div", { class: "card" }, el("h3", { text: "Share of the channels' contribution" }), intervalChart(row("share")))));
  const table = el("table", { id: "channels" }, el("thead", {}, el("tr", {}, ["channel", "spend", "contribution", "ROAS", "marginal ROAS", "ROI"].map((h, i) => el("th", { class: i ? "num" : "", text: h })))),
    el("tbody", {}, ch.order.map((c) => { const g = (k) => ((ch.metrics[c] || {})[k] || [])[0]; return el("tr", {}, el("td", { text: c }), el("td", { class: "num", text: fmtSig(g("spend")) }), el("td", { class: "num", text: fmtSig(g("contribution")) }), el("td", { class: "num", text: fmtSig(g("roas")) }), el("td", { class: "num", text: fmtSig(g("marginal_roas")) }), el("td", { class: "num", text: pct(g("roi")) })); })));
  m.append(el("div", { class: "card" }, el("h3", { text: "Channels" }), table));
  const d = p.decomposition;
  const isChannel = (n) => ch.order.includes(n);
  m.append(el("div", { class: "card" }, el("h3", { text: "Weekly decomposition (posterior means; toggle components, hover for values)" }),
    timeChart(d.dates, d.series, d.order, { initiallyOn: (n) => isChannel(n) || n === "baseline" })));
  if (p.report) {
    m.append(el("h2", { text: "Report" }), el("p", { class: "muted", text: "The run's own report.html (every section and chart of `mmm report`)." }),
      el("iframe", { class: "report", src: `/runs/${encodeURIComponent(name)}/files/report/report.html`, title: "report" }));
  }
}

// The planner: spend per channel (and geo) over a horizon, evaluated on every change.
async function viewPlan(name) {
  const m = main();
  const enc = encodeURIComponent(name);
  m.replaceChildren(el("h1", { text: `Planner: ${name}` }));
  let setup;
  try { setup = await api(`/api/runs/${enc}/current`, {}); }
  catch (e) { m.append(el("div", { class: "alert", id: "unverified" }, el("p", { text: e.message }))); return; }
  const channels = setup.channels, geos = setup.geos;
  const state = { start: setup.current.start, horizon: setup.current.horizon_weeks, current: setup.current, spend: {}, byGeo: null };
  const startIn = el("input", { type: "date", id: "start", value: state.start });
  const horizonIn = el("input", { type: "number", id: "horizon", min: 1, max: 520, value: state.horizon });
  const spendBox = el("div", { id: "spend" });
  const geoBox = el("div", { id: "geo-spend" });
  const results = el("div", { id: "results" });
  const status = el("p", { class: "muted small", id: "status" });
  m.append(el("p", { class: "muted", text: `Data ${setup.data.first} – ${setup.data.last}. Spend is each channel's total over the horizon, spent evenly week by week; the current plan is ${"each channel's spend in the weeks before the start, rescaled to the horizon"}. Every number is computed over all posterior draws by the code of \`mmm scenario\`.` }),
    el("div", { class: "row" }, el("label", {}, "start ", startIn), el("label", {}, "weeks ", horizonIn),
      el("button", { class: "secondary", id: "reset", onclick: () => loadWindow() }, "Reset to current")),
    spendBox, geoBox, status, results);

  function channelRows() {
    spendBox.replaceChildren();
    channels.forEach((c, i) => {
      const cur = state.current.spend[i];
      const max = Math.max(1, cur * 3);
      const slider = el("input", { type: "range", min: 0, max: max, step: max / 300, value: state.spend[c], id: `slider-${c}`, "data-channel": c });
      const num = el("input", { type: "number", min: 0, step: "any", value: round2(state.spend[c]), id: `spend-${c}`, "data-channel": c });
      const change = el("span", { class: "muted small", id: `change-${c}` });
      const sync = (v, from) => {
        state.spend[c] = v; state.byGeo = null;
        if (from !== slider) slider.value = v;
        if (from !== num) num.value = round2(v);
        change.textContent = cur > 0 ? `${v >= cur ? "+" : ""}${(100 * (v / cur - 1)).toFixed(1)}% vs current ${fmtSig(cur)}` : `current ${fmtSig(cur)}`;
        if (geos) geoRows();
        schedule();
      };
      slider.addEventListener("input", () => sync(+slider.value, slider));
      num.addEventListener("input", () => { const v = +num.value; if (isFinite(v) && v >= 0) sync(v, num); });
      change.textContent = `current ${fmtSig(cur)}`;
      spendBox.append(el("div", { class: "row" }, el("span", { class: "swatch", "data-c": i }), el("strong", { text: c }), slider, num, change));
    });
    spendBox.querySelectorAll(".swatch").forEach((sw) => (sw.style.background = COLORS[+sw.dataset.c % COLORS.length]));
  }
  // Geo hierarchy: each geo's spend per channel; editing a cell plans by geo.
  function geoRows() {
    if (!geos) return;
    const cur = state.current.spend_by_geo;
    const values = state.byGeo || geos.map((g, gi) => channels.map((c, ci) => { const tot = state.current.spend[ci]; return tot > 0 ? state.spend[c] * cur[gi][ci] / tot : 0; }));
    const body = el("tbody", {}, geos.map((g, gi) => el("tr", {}, el("td", { text: g }), channels.map((c, ci) => {
      const inp = el("input", { type: "number", min: 0, step: "any", value: round2(values[gi][ci]), "data-geo": g, "data-channel": c });
      inp.addEventListener("input", () => {
        const v = +inp.value; if (!(isFinite(v) && v >= 0)) return;
        state.byGeo = state.byGeo || values.map((r) => r.slice());
        state.byGeo[gi][ci] = v;
        channels.forEach((cc, k) => (state.spend[cc] = state.byGeo.reduce((s, r) => s + r[k], 0)));
        schedule();
      });
      return el("td", { class: "num" }, inp);
    }))));
    geoBox.replaceChildren(el("details", {}, el("summary", { text: "Spend per geo (a national plan is split by each geo's share of the current spend; edit a cell to plan by geo)" }),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "geo" }), channels.map((c) => el("th", { class: "num", text: c })))), body)));
  }
  function request(extra) {
    const r = { start: state.start, horizon: state.horizon, spend: { ...state.spend }, ...extra };
    if (state.byGeo) r.spend_by_geo = Object.fromEntries(geos.map((g, gi) => [g, Object.fromEntries(channels.map((c, ci) => [c, state.byGeo[gi][ci]]))]));
    return r;
  }
  let timer = null, seq = 0;
  function schedule() { clearTimeout(timer); status.textContent = "evaluating…"; timer = setTimeout(evaluate, 120); }
  async function evaluate() {
    const my = ++seq;
    try {
      const r = await api(`/api/runs/${enc}/scenario`, request());
      if (my !== seq) return;
      showResult(r);
      status.textContent = `evaluated over ${r.draws} posterior draws in ${(1000 * r.seconds).toFixed(0)} ms`;
      status.dataset.done = String(my);
    } catch (e) { if (my === seq) { status.textContent = ""; results.replaceChildren(el("p", { class: "err", id: "error", text: e.message })); } }
  }
  function showResult(r) {
    const c = r.comparison, s = c.scenarios[0];
    const kpi = (label, value, id, sub) => el("div", { class: "kpi" }, el("div", { class: "l", text: label }), el("div", { class: "v", id, text: value }), sub ? el("div", { class: "muted small", text: sub }) : null);
    const iv = Math.round(100 * c.interval);
    const mr = el("table", { id: "marginal" }, el("thead", {}, el("tr", {}, el("th", { text: "channel" }), el("th", { class: "num", text: "spend" }), el("th", { class: "num", text: "marginal ROAS" }))),
      el("tbody", {}, channels.map((ch) => el("tr", {}, el("td", { text: ch }), el("td", { class: "num", text: fmtSig(state.spend[ch]) }), el("td", { class: "num", id: `mroas-${ch}`, text: fmtSig(r.marginal_roas[ch]) })))));
    results.replaceChildren(
      el("div", { class: "kpis" },
        kpi("Lift of this plan (mean)", fmt(s.lift.mean), "lift-mean", `${iv}% interval ${fmt(s.lift.lower)} – ${fmt(s.lift.upper)}`),
        kpi("Lift vs current (mean)", fmt(s.lift_minus_current.mean), "gain-mean", `${iv}% interval ${fmt(s.lift_minus_current.lower)} – ${fmt(s.lift_minus_current.upper)}`),
        kpi("P(beats current)", pct(s.prob_beats_current), "p-beats"),
        kpi("Spend", fmtSig(s.spend), "plan-spend", `current ${fmtSig(c.current.spend)}; current lift ${fmt(c.current.lift.mean)}`)),
      el("div", { class: "grid2" },
        el("div", { class: "card" }, el("h3", { text: "Outcome distribution: lift of this plan over the draws" }),
          histogram(r.histogram, [{ value: c.current.lift.mean, label: "current", color: "#5d6b7a" }, { value: s.lift.mean, label: "plan", color: "#1f6feb" }])),
        el("div", { class: "card" }, el("h3", { text: "Marginal ROAS at this plan (±1% of each channel's spend)" }), mr,
          el("p", {}, el("a", { id: "plan-csv", download: "plan.csv", href: "data:text/csv;charset=utf-8," + encodeURIComponent(r.plan_csv) }, "Download this plan (the CSV `mmm scenario --plans` reads)")))));
  }
  // Optimize with a budget, a ± band and per-channel bounds: `mmm optimize`'s optimizer.
  const currentTotal = () => state.current.spend.reduce((a, b) => a + b, 0);
  const budgetIn = el("input", { type: "number", id: "budget", min: 0, step: "any" });
  const bandIn = el("input", { type: "number", id: "max-change", min: 0, step: "any", value: setup.defaults.max_change === null ? "" : Math.round(100 * setup.defaults.max_change) });
  const unlimited = el("input", { type: "checkbox", id: "unlimited" });
  const boundsBox = el("div", { class: "row" }, channels.map((c) => el("label", {}, `${c} min `, el("input", { type: "number", "data-min": c, min: 0, step: "any" }), " max ", el("input", { type: "number", "data-max": c, min: 0, step: "any" }))));
  const optOut = el("div", { id: "optimize-result" });
  const optBtn = el("button", { id: "optimize", onclick: async () => {
    optBtn.disabled = true; optOut.textContent = "optimizing…";
    const bounds = channels.map((c) => { const lo = m.querySelector(`[data-min="${c}"]`).value, hi = m.querySelector(`[data-max="${c}"]`).value; return lo === "" && hi === "" ? null : { channel: c, min: lo === "" ? null : +lo, max: hi === "" ? null : +hi }; }).filter(Boolean);
    const req = { start: state.start, horizon: state.horizon, bounds, unlimited: unlimited.checked };
    if (budgetIn.value !== "") req.budget = +budgetIn.value;
    if (!unlimited.checked && bandIn.value !== "") req.max_change = +bandIn.value / 100;
    try {
      const r = await api(`/api/runs/${enc}/optimize`, req);
      const p = r.plan;
      if (p.optimized_spend_by_geo) {
        state.byGeo = geos.map((g) => p.optimized_spend_by_geo[g].slice());
        channels.forEach((c, k) => (state.spend[c] = state.byGeo.reduce((s, row) => s + row[k], 0)));
      } else channels.forEach((c, k) => (state.spend[c] = p.optimized_spend[k]));
      const keep = state.byGeo; channelRows(); state.byGeo = keep; geoRows();
      optOut.replaceChildren(el("p", {}, `Optimized (${p.objective}) in ${(1000 * r.seconds).toFixed(0)} ms: P(optimized beats current) ${pct(p.prob_optimized_beats_current)}. Binding: ${(p.binding_constraints || []).join("; ") || "none"}.`));
      schedule();
    } catch (e) { optOut.replaceChildren(el("p", { class: "err", text: e.message })); }
    optBtn.disabled = false;
  } }, "Optimize");
  m.append(el("div", { class: "card" }, el("h3", { text: "Optimize (the optimizer of `mmm optimize`)" }),
    el("div", { class: "row" }, el("label", {}, "budget ", budgetIn), el("label", {}, "± band % ", bandIn), el("label", {}, unlimited, " no band"), optBtn),
    boundsBox, optOut));
  // Save: `mmm scenario --record` into the plans directory.
  const nameIn = el("input", { type: "text", id: "plan-name", value: "plan-1" });
  const saved = el("p", { id: "saved", class: "muted" });
  const saveBtn = el("button", { id: "save", onclick: async () => {
    saveBtn.disabled = true;
    try {
      const r = await api(`/api/runs/${enc}/plans`, request({ name: nameIn.value }));
      saved.className = ""; saved.textContent = `Saved: ${r.saved} (in the plans directory; review it later with \`${r.review}\`)`;
      saved.dataset.folder = r.folder;
    } catch (e) { saved.className = "err"; saved.textContent = e.message; }
    saveBtn.disabled = false;
  } }, "Save plan");
  m.append(el("div", { class: "card" }, el("h3", { text: "Save this plan as a decision record" }), el("div", { class: "row" }, el("label", {}, "name ", nameIn), saveBtn), saved));

  async function loadWindow() {
    state.start = startIn.value || null; state.horizon = +horizonIn.value || state.horizon;
    try {
      const s = await api(`/api/runs/${enc}/current`, { start: state.start, horizon: state.horizon });
      state.current = s.current; state.start = s.current.start; startIn.value = s.current.start;
      channels.forEach((c, i) => (state.spend[c] = s.current.spend[i]));
      state.byGeo = null;
      budgetIn.placeholder = fmtSig(currentTotal());
      channelRows(); geoRows(); schedule();
    } catch (e) { results.replaceChildren(el("p", { class: "err", id: "error", text: e.message })); }
  }
  startIn.addEventListener("change", loadWindow);
  horizonIn.addEventListener("change", loadWindow);
  channels.forEach((c, i) => (state.spend[c] = state.current.spend[i]));
  budgetIn.placeholder = fmtSig(currentTotal());
  channelRows(); geoRows(); schedule();
}
function round2(v) { return Math.round(v * 100) / 100; }

async function viewCompare(a, b) {
  const m = main();
  m.replaceChildren(el("h1", { text: "Compare runs" }));
  if (!a || !b) {
    const { runs } = await api("/api/runs");
    const names = runs.filter((r) => r.verified).map((r) => r.name);
    const sa = el("select", {}, names.map((n) => el("option", { value: n, text: n })));
    const sb = el("select", {}, names.map((n) => el("option", { value: n, text: n })));
    if (names.length > 1) sb.selectedIndex = 1;
    m.append(el("div", { class: "row" }, sa, "→", sb, el("button", { onclick: () => (location.hash = `#/compare/${encodeURIComponent(sa.value)}/${encodeURIComponent(sb.value)}`) }, "Compare")));
    return;
  }
  const c = await api(`/api/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}`);
  m.append(el("p", { class: "muted", text: `${a} → ${b}: what \`mmm compare\` and \`mmm diff\` report, drawn.` }));
  const refresh = c.compare && c.compare.refreshes && c.compare.refreshes[0];
  if (refresh) {
    const g = refresh.guardrail || {};
    m.append(el("div", { class: "row", id: "guardrail" }, badge(!!g.passed, "refresh guardrail passed", "refresh guardrail FAILED"), el("span", { class: "muted", text: (g.reasons || g.findings || []).join("; ") })));
    const rows = [], share = [];
    (refresh.channels || []).forEach((ch, i) => {
      const A = ch.roas_a || ch.a || {}, B = ch.roas_b || ch.b || {};
      rows.push({ label: `${ch.channel} · ${a}`, mean: A.mean, lower: A.lower, upper: A.upper, color: COLORS[0] });
      rows.push({ label: `${ch.channel} · ${b}`, mean: B.mean, lower: B.lower, upper: B.upper, color: COLORS[1] });
      const sa = ch.share_a || {}, sb = ch.share_b || {};
      share.push({ label: `${ch.channel} · ${a}`, mean: sa.mean, lower: sa.lower, upper: sa.upper, color: COLORS[0] });
      share.push({ label: `${ch.channel} · ${b}`, mean: sb.mean, lower: sb.lower, upper: sb.upper, color: COLORS[1] });
    });
    m.append(el("div", { class: "grid2" },
      el("div", { class: "card" }, el("h3", { text: "ROAS per channel, side by side" }), intervalChart(rows, { width: 540 })),
      el("div", { class: "card" }, el("h3", { text: "Share of contribution, side by side" }), intervalChart(share, { width: 540 }))));
    const flips = (refresh.parameters || []).filter((p) => p.sign_flip).map((p) => p.parameter);
    m.append(el("p", {}, flips.length ? `Sign flips: ${flips.join(", ")}` : "No parameter changed sign."));
  } else m.append(el("p", { class: "muted", text: "Results not compared: " + (c.compare_note || "") }));
  const specRows = c.spec_changes.map((s) => el("tr", {}, el("td", { text: s.key }), el("td", { text: s.a ?? "(absent)" }), el("td", { text: s.b ?? "(absent)" })));
  m.append(el("div", { class: "card" }, el("h3", { text: `Spec: ${c.spec_changes.length} change(s)` }),
    el("table", { id: "spec-changes" }, el("thead", {}, el("tr", {}, ["key", a, b].map((h) => el("th", { text: h })))), el("tbody", {}, specRows))));
  const d = c.data;
  if (d) {
    m.append(el("div", { class: "card" }, el("h3", { text: "Data" }),
      el("p", {}, `${d.rows_added} row(s) added${d.added_span ? ` (${d.added_span[0]} – ${d.added_span[1]})` : ""}, ${d.rows_removed} removed.`),
      el("table", {}, el("thead", {}, el("tr", {}, ["column", "changed past periods", "PSI"].map((h, i) => el("th", { class: i ? "num" : "", text: h })))),
        el("tbody", {}, (d.columns || []).map((col) => el("tr", {}, el("td", { text: col.column }), el("td", { class: "num", text: col.changed_periods }), el("td", { class: "num", text: fmt(col.psi, 3) })))))));
  } else m.append(el("p", { class: "muted", text: "Data not compared: " + (c.data_note || "") }));
}

async function route() {
  tip.hide();
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  try {
    if (parts[0] === "run" && parts[1]) await viewRun(parts[1]);
    else if (parts[0] === "plan" && parts[1]) await viewPlan(parts[1]);
    else if (parts[0] === "compare") await viewCompare(parts[1], parts[2]);
    else await viewRuns();
  } catch (e) {
    main().replaceChildren(el("div", { class: "alert" }, el("p", { class: "err", id: "error", text: e.message })));
  }
  document.body.dataset.view = parts[0] || "runs";
}
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);
