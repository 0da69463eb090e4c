/* ditto-data view: browse a dataset's triplets and a build's rejections, play source and edit in sync.
 *
 * Two data sources behind one interface: the server's JSON API (ditto-data view PATH), or the static
 * files ditto-data view PATH --static DIR writes (data/*.js, loaded as scripts because browsers refuse
 * fetch() on file://). Only one page of rows is ever held, plus a few static chunks in a small cache.
 * Plain JS, no dependencies, nothing fetched from the network.
 */
"use strict";

const STATIC = window.DITTO_STATIC || null;
const PAGE_SIZE = 50;
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

function fmt(x) {
  if (x === null || x === undefined) return "";
  if (typeof x !== "number") return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(3).replace(/\.?0+$/, "");
}

/* ---------------------------------------------------------------- data: API or static chunks */

const Data = {
  info: null,
  async getInfo() {
    if (STATIC) return STATIC;
    return this.json("api/info");
  },
  async json(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
    return r.json();
  },
  mediaUrl(path) {
    return "media/" + path.split("/").map(encodeURIComponent).join("/");
  },
  async summary(view) {
    if (STATIC) return STATIC.static.views[view].summary;
    return this.json("api/summary?view=" + encodeURIComponent(view));
  },
  async rows(view, q) {
    if (STATIC) return StaticData.rows(view, q);
    const p = new URLSearchParams({ view, offset: q.offset, limit: q.limit });
    queryParams(q, p);
    return this.json("api/rows?" + p.toString());
  },
  async sample(view, id) {
    if (STATIC) return StaticData.sample(view, id);
    const r = await fetch("api/sample?" + new URLSearchParams({ view, id }));
    return r.ok ? r.json() : null;
  },
};

function queryParams(q, p) {
  if (q.text) p.set("q", q.text);
  for (const [k, v] of Object.entries(q.facets)) if (v) p.set("f." + k, v);
  for (const [k, [lo, hi]] of Object.entries(q.ranges)) {
    if (lo !== "" && lo !== null && lo !== undefined) p.set("min." + k, lo);
    if (hi !== "" && hi !== null && hi !== undefined) p.set("max." + k, hi);
  }
  if (q.sort) p.set("sort", q.sort);
  if (q.desc) p.set("desc", "1");
  return p;
}

/* Static mode: rows come in chunks (data/<view>/<order>/<n>.js), one order by id and one per score
 * and direction. A page without filters reads only the chunks it covers; with filters the chunks are
 * scanned in order (a few held in memory at a time), the same filter the server applies. */
const pending = {};
window.DittoData = function (key, payload) {
  const p = pending[key];
  if (p) { delete pending[key]; p.resolve(payload); }
};
const StaticData = {
  cache: new Map(),
  load(key) {
    if (this.cache.has(key)) return Promise.resolve(this.cache.get(key));
    return new Promise((resolve, reject) => {
      pending[key] = { resolve: (rows) => {
        this.cache.set(key, rows);
        if (this.cache.size > 24) this.cache.delete(this.cache.keys().next().value);
        resolve(rows);
      } };
      const s = el("script", { src: "data/" + key + ".js" });
      s.onerror = () => reject(new Error("cannot load data/" + key + ".js"));
      s.onload = () => s.remove();
      document.head.append(s);
    });
  },
  order(view, q) {
    const meta = STATIC.static.views[view];
    if (q.sort) return { key: q.sort + (q.desc ? "-desc" : ""), n: meta.orders[q.sort + (q.desc ? "-desc" : "")], rev: false };
    return { key: "id", n: meta.orders.id, rev: q.desc };
  },
  async *scan(view, q) {
    const { key, n, rev } = this.order(view, q);
    for (let k = 0; k < n; k++) {
      const c = rev ? n - 1 - k : k;
      const rows = await this.load(`${view}/${key}/${c}`);
      yield rev ? rows.slice().reverse() : rows;
    }
  },
  async rows(view, q) {
    const meta = STATIC.static.views[view];
    const chunk = STATIC.static.chunk;
    const out = [];
    const match = matcher(view, q);
    if (!match) {  // no filter: read just the chunks this page covers
      const { key, n, rev } = this.order(view, q);
      const total = meta.summary.rows;
      for (let i = q.offset; i < Math.min(total, q.offset + q.limit); i++) {
        const pos = rev ? total - 1 - i : i;
        const rows = await this.load(`${view}/${key}/${Math.floor(pos / chunk)}`);
        out.push(rows[pos % chunk]);
      }
      return { total, rows: out };
    }
    let total = 0;
    for await (const rows of this.scan(view, q)) {
      for (const r of rows) {
        if (!match(r)) continue;
        if (total >= q.offset && out.length < q.limit) out.push(r);
        total++;
      }
    }
    return { total, rows: out };
  },
  async sample(view, id) {
    const meta = STATIC.static.views[view];
    const firsts = meta.first_ids;
    let lo = 0, hi = firsts.length - 1, c = 0;
    while (lo <= hi) { const m = (lo + hi) >> 1; if (firsts[m] <= id) { c = m; lo = m + 1; } else hi = m - 1; }
    if (!firsts.length) return null;
    const rows = await this.load(`${view}/id/${c}`);
    return rows.find((r) => r.id === id) || null;
  },
};

/* The filter the server applies (viewer/index.py View.mask), for static mode; null when nothing filters. */
function matcher(view, q) {
  const tests = [];
  const text = (q.text || "").trim().toLowerCase();
  if (text) {
    const cols = ["instruction", "id"].concat(view === "rejected" ? ["message"] : []);
    tests.push((r) => cols.some((c) => (r[c] || "").toLowerCase().includes(text)));
  }
  for (const [k, v] of Object.entries(q.facets)) if (v) tests.push((r) => r[k] === v);
  for (const [k, [lo, hi]] of Object.entries(q.ranges)) {
    if (lo !== "" && lo != null) tests.push((r) => r.scores[k] != null && r.scores[k] >= +lo);
    if (hi !== "" && hi != null) tests.push((r) => r.scores[k] != null && r.scores[k] <= +hi);
  }
  return tests.length ? (r) => tests.every((t) => t(r)) : null;
}

/* ---------------------------------------------------------------- state and routing */

/* URL: #/<view>[/<sample id>][?q=..&f.category=..&min.quality=..&sort=..&desc=1&page=N]; #/charts */
function parseHash() {
  const h = location.hash.replace(/^#\/?/, "");
  const [path, qs] = h.split("?");
  const parts = path.split("/").map(decodeURIComponent).filter(Boolean);
  const p = new URLSearchParams(qs || "");
  const q = { text: p.get("q") || "", facets: {}, ranges: {}, sort: p.get("sort") || "", desc: p.get("desc") === "1" };
  for (const [k, v] of p) {
    if (k.startsWith("f.")) q.facets[k.slice(2)] = v;
    if (k.startsWith("min.") || k.startsWith("max.")) {
      const s = k.slice(4), r = q.ranges[s] || ["", ""];
      r[k.startsWith("min.") ? 0 : 1] = v;
      q.ranges[s] = r;
    }
  }
  return { view: parts[0] || "", id: parts.slice(1).join("/") || "", q, page: Math.max(0, (+p.get("page") || 1) - 1) };
}

function makeHash(view, id, q, page) {
  const p = queryParams(q, new URLSearchParams());
  if (page) p.set("page", page + 1);
  const s = p.toString();
  return "#/" + encodeURIComponent(view) + (id ? "/" + encodeURIComponent(id) : "") + (s ? "?" + s : "");
}

const state = { view: "", id: "", q: null, page: 0, summary: null, rows: [], listKey: "", thresholds: {} };

async function route() {
  const r = parseHash();
  const info = Data.info;
  if (r.view === "charts") return showCharts();
  $("main").classList.remove("charts");
  $("#charts").hidden = true;
  const view = info.views.includes(r.view) ? r.view : info.default_view;
  renderTabs(view);
  if (view !== state.view) {
    $("#rows tbody").replaceChildren();
    state.summary = await Data.summary(view); state.view = view;
  }
  const listKey = JSON.stringify([view, r.q, r.page]);
  state.q = r.q; state.page = r.page;
  renderFilters();
  if (listKey !== state.listKey) {
    state.listKey = listKey;
    await loadRows();
  }
  await showSample(r.id);
}

function go(view, id, q, page) { location.hash = makeHash(view, id, q, page); }

/* ---------------------------------------------------------------- header, filters, list */

function renderTabs(active) {
  const nav = $("#tabs");
  nav.replaceChildren(...Data.info.views.map((v) => el("a", { href: "#/" + encodeURIComponent(v), class: v === active ? "active" : null }, v)));
  if (Data.info.charts) nav.append(el("a", { href: "#/charts", class: active === "charts" ? "active" : null }, "charts"));
}

function renderFilters() {
  const s = state.summary, q = state.q;
  const box = $("#filters");
  const text = el("input", { type: "search", id: "filter-text", placeholder: "instruction, id" + (state.view === "rejected" ? ", message" : ""), value: q.text });
  const facets = Object.entries(s.facets).map(([name, values]) => [
    el("label", { for: "facet-" + name }, name),
    el("select", { id: "facet-" + name, "data-facet": name },
      el("option", { value: "" }, "all"),
      values.map(([v, n]) => el("option", { value: v, selected: q.facets[name] === v }, `${v} (${n})`))),
  ]);
  const ranges = s.scores.map((name) => {
    const [lo, hi] = q.ranges[name] || ["", ""];
    const [mn, mx] = s.ranges[name] || [null, null];
    return [
      el("label", {}, name, " ", el("span", { class: "tag" }, `${fmt(mn)}..${fmt(mx)}`)),
      el("div", { class: "range" },
        el("input", { type: "number", step: "any", placeholder: "min", value: lo, "data-min": name }),
        el("input", { type: "number", step: "any", placeholder: "max", value: hi, "data-max": name })),
    ];
  });
  const sort = el("select", { id: "sort" }, el("option", { value: "" }, "id"),
    s.scores.map((name) => el("option", { value: name, selected: q.sort === name }, name)));
  const desc = el("input", { type: "checkbox", id: "desc", checked: q.desc });
  const apply = () => {
    const nq = { text: text.value, facets: {}, ranges: {}, sort: sort.value, desc: desc.checked };
    box.querySelectorAll("[data-facet]").forEach((e) => { if (e.value) nq.facets[e.dataset.facet] = e.value; });
    box.querySelectorAll("[data-min]").forEach((e) => {
      const mx = box.querySelector(`[data-max="${e.dataset.min}"]`).value;
      if (e.value !== "" || mx !== "") nq.ranges[e.dataset.min] = [e.value, mx];
    });
    go(state.view, "", nq, 0);
  };
  const form = el("form", { id: "filter-form", onsubmit: (ev) => { ev.preventDefault(); apply(); } },
    el("label", { for: "filter-text" }, "text"), text, facets, ranges,
    el("label", { for: "sort" }, "sort by"), sort,
    el("label", {}, desc, " descending"),
    el("div", {}, el("button", { type: "submit", id: "apply" }, "apply"), " ",
      el("button", { type: "button", onclick: () => go(state.view, "", { text: "", facets: {}, ranges: {}, sort: "", desc: false }, 0) }, "reset")));
  box.replaceChildren(form);
  form.querySelectorAll("select, input[type=checkbox]").forEach((e) => e.addEventListener("change", apply));
}

async function loadRows() {
  const q = { ...state.q, offset: state.page * PAGE_SIZE, limit: PAGE_SIZE };
  $("#count").textContent = "loading…";
  try {
    const res = await Data.rows(state.view, q);
    state.rows = res.rows;
    state.total = res.total;
  } catch (e) {
    $("#count").replaceChildren(el("div", { class: "error" }, String(e.message || e)));
    return;
  }
  renderRows();
}

function renderRows() {
  const rejected = state.view === "rejected";
  const scores = listScores();
  const head = rejected ? ["id", "kind", "stage", "reason"] : ["id", "category", "instruction"];
  $("#rows thead").replaceChildren(el("tr", {}, head.map((h) => el("th", {}, h)),
    scores.map((s) => el("th", { class: "num", title: s }, s.replace(/_/g, " ")))));
  $("#rows tbody").replaceChildren(...state.rows.map((r) => {
    const cells = rejected ? [r.id, r.kind, r.stage, r.reason] : [r.id, r.category, r.instruction];
    return el("tr", { "data-id": r.id, class: r.id === state.id ? "selected" : null, onclick: () => go(state.view, r.id, state.q, state.page) },
      cells.map((c, i) => el("td", { class: i === cells.length - 1 ? "text" : null }, el("div", {}, c || ""))),
      scores.map((s) => el("td", { class: "num" + (failing(s, r.scores[s]) ? " fail" : "") }, fmt(r.scores[s]))));
  }));
  const pages = Math.max(1, Math.ceil(state.total / PAGE_SIZE));
  $("#count").textContent = `${state.total.toLocaleString()} ${rejected ? "rejected records" : "triplets"}` +
    (state.total ? ` · ${(state.page * PAGE_SIZE + 1).toLocaleString()}–${Math.min(state.total, (state.page + 1) * PAGE_SIZE).toLocaleString()}` : "");
  $("#pager").replaceChildren(
    el("button", { id: "prev", disabled: state.page === 0, onclick: () => go(state.view, "", state.q, state.page - 1) }, "‹ prev"),
    el("span", {}, `page ${state.page + 1} of ${pages.toLocaleString()}`),
    el("button", { id: "next", disabled: state.page + 1 >= pages, onclick: () => go(state.view, "", state.q, state.page + 1) }, "next ›"));
}

/* The list shows at most three scores: the one sorted by first, then the judge's. */
function listScores() {
  const all = state.summary.scores;
  const clip = ["motion", "dedup_similarity"];
  const order = [state.q.sort].concat(all.filter((s) => !clip.includes(s)), all.filter((s) => clip.includes(s)));
  return [...new Set(order.filter((s) => s && all.includes(s)))].slice(0, 3);
}

function failing(score, v) {
  const t = state.thresholds[score];
  if (v === undefined || v === null || !t || t.threshold === null || t.threshold === undefined) return false;
  return t.above ? v >= t.threshold : v < t.threshold;
}

/* ---------------------------------------------------------------- sample: synced players */

let player = null;

async function showSample(id) {
  state.id = id;
  document.querySelectorAll("#rows tbody tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.id === id));
  const box = $("#detail");
  if (player) { player.destroy(); player = null; }
  if (!id) {
    box.replaceChildren(el("div", { class: "empty" }, "Pick a row to see its videos."));
    return;
  }
  const r = await Data.sample(state.view, id);
  if (!r) { box.replaceChildren(el("div", { class: "error" }, `no sample ${id} in ${state.view}`)); return; }
  const media = r.media || {};
  const named = ["source", "edited", "depth"].filter((k) => (r.paths || {})[k]);  // what the row names
  const streams = (named.length ? named : ["source"]).map((k) => [k, media[k]]);
  const videos = [];
  const streamEls = streams.map(([name, path]) => {
    if (!path) {
      const why = (r.paths || {})[name] ? "file no longer exists" : (r.kind === "input" ? "no clip was made (the input lies outside the dataset)" : "no file");
      return el("div", { class: "stream" }, el("div", { class: "label" }, name), el("div", { class: "missing" }, why));
    }
    const v = el("video", { src: Data.mediaUrl(path), muted: true, playsinline: true, preload: "auto", "data-stream": name });
    v.muted = true;
    videos.push(v);
    return el("div", { class: "stream" }, el("div", { class: "label" }, name), v);
  });
  if (media.reference) streamEls.push(el("div", { class: "stream" }, el("div", { class: "label" }, "reference keyframe"),
    el("img", { src: Data.mediaUrl(media.reference), alt: "edited keyframe" })));
  const fps = r.fps || 20;
  const controls = el("div", { class: "controls" });
  const parts = [el("div", { class: "streams" }, streamEls)];
  if (videos.length) parts.push(controls);
  if (r.reason) parts.push(el("div", { class: "reject", id: "reject-box" },
    el("div", {}, "rejected by ", el("b", {}, r.stage || "?"), ": ", el("span", { class: "reason" }, r.reason)),
    el("div", { class: "message" }, r.message || "")));
  if (r.instruction) parts.push(el("div", { class: "instruction" }, r.instruction));
  if (r.caption) parts.push(el("div", { class: "caption" }, r.caption));
  parts.push(el("table", { class: "kv" }, [
    ["id", r.id], ["source", r.source_id], ["category", r.category], ["kind", r.kind], ["style", r.style],
    ["frames", r.num_frames ? `${r.num_frames} at ${fmt(fps)} fps` + (r.fps_assumed ? " (fps assumed)" : "") : null],
  ].filter(([, v]) => v).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))));
  const scoreNames = Object.keys(r.scores || {});
  if (scoreNames.length) {
    parts.push(el("h3", {}, "scores"), el("table", { class: "kv", id: "scores" },
      el("tr", {}, el("th", {}, "score"), el("th", {}, "value"), el("th", {}, "threshold")),
      scoreNames.map((s) => {
        const t = state.thresholds[s] || {};
        return el("tr", {}, el("td", {}, s), el("td", { class: failing(s, r.scores[s]) ? "fail" : null }, fmt(r.scores[s])),
          el("td", {}, t.threshold !== undefined && t.threshold !== null ? `${t.above ? "max" : "min"} ${fmt(t.threshold)} (${t.stage})` : ""));
      })));
  }
  if (r.rationale) parts.push(el("h3", {}, "judge's rationale"), el("div", {}, r.rationale));
  if (r.provenance && r.provenance.length) {
    parts.push(el("h3", {}, "provenance"), el("table", { class: "kv", id: "provenance" },
      el("tr", {}, ["artifact", "stage", "backend", "model", "revision", "seed", "config"].map((h) => el("th", {}, h))),
      r.provenance.map((p) => el("tr", {}, [p.artifact, p.stage, p.backend, p.model || "-", p.revision || "-", p.seed ?? "-", p.config_hash].map((v) => el("td", {}, v))))));
  }
  if (r.fields && Object.keys(r.fields).length) {
    parts.push(el("details", {}, el("summary", {}, "all fields"), el("table", { class: "kv" },
      Object.entries(r.fields).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, fmt(v)))))));
  }
  box.replaceChildren(...parts);
  if (videos.length) player = new SyncPlayer(videos, controls, fps, r.num_frames);
}

/* One clock for every stream: the first video leads, the others follow it within half a frame.
 * Play/pause, a seek bar and frame steps act on all of them. */
class SyncPlayer {
  constructor(videos, controls, fps, numFrames) {
    this.videos = videos; this.lead = videos[0]; this.fps = fps; this.numFrames = numFrames || 0;
    this.btn = el("button", { id: "play", onclick: () => this.toggle() }, "▶ play");
    this.seek = el("input", { type: "range", id: "seek", min: 0, max: Math.max(0, this.frames() - 1), step: 1, value: 0,
      oninput: () => this.setFrame(+this.seek.value) });
    this.label = el("span", { class: "frame", id: "frame" }, "");
    controls.append(
      el("button", { id: "step-back", title: "previous frame", onclick: () => this.step(-1) }, "◀|"),
      this.btn,
      el("button", { id: "step-fwd", title: "next frame", onclick: () => this.step(1) }, "|▶"),
      this.seek, this.label);
    this.lead.addEventListener("loadedmetadata", () => { this.seek.max = Math.max(0, this.frames() - 1); this.update(); });
    this.lead.addEventListener("ended", () => { this.setTime(0); this.play(); });
    for (const v of videos) v.addEventListener("seeked", () => this.update());
    this.tick = this.tick.bind(this);
    this.raf = requestAnimationFrame(this.tick);
    this.update();
  }
  frames() {
    if (this.numFrames) return this.numFrames;
    const d = this.lead.duration;
    return isFinite(d) ? Math.round(d * this.fps) : 0;
  }
  frame() { return Math.min(Math.max(0, this.frames() - 1), Math.floor(this.lead.currentTime * this.fps + 1e-3)); }
  playing() { return !this.lead.paused; }
  play() { for (const v of this.videos) v.play().catch(() => {}); this.btn.textContent = "❚❚ pause"; }
  pause() { for (const v of this.videos) v.pause(); this.setTime(this.lead.currentTime); this.btn.textContent = "▶ play"; }
  toggle() { this.playing() ? this.pause() : this.play(); }
  setTime(t) { for (const v of this.videos) v.currentTime = t; this.update(); }
  setFrame(f) { if (this.playing()) this.pause(); this.setTime((f + 0.5) / this.fps); }
  step(d) { this.setFrame(Math.min(Math.max(0, this.frames() - 1), Math.max(0, this.frame() + d))); }
  tick() {
    if (this.playing()) {
      const t = this.lead.currentTime;
      for (const v of this.videos.slice(1)) {
        if (v.paused && !v.ended) v.play().catch(() => {});
        if (Math.abs(v.currentTime - t) > 0.5 / this.fps) v.currentTime = t;
      }
      this.update();
    }
    this.raf = requestAnimationFrame(this.tick);
  }
  update() {
    const n = this.frames();
    this.seek.value = this.frame();
    this.label.textContent = `frame ${this.frame() + 1} / ${n || "?"}`;
  }
  destroy() { cancelAnimationFrame(this.raf); for (const v of this.videos) { v.pause(); v.removeAttribute("src"); v.load(); } }
}

/* ---------------------------------------------------------------- charts (inline SVG) */

const COLORS = { passed: "#4c9f70", rejected: "#d04c40", other: "#969696" };
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function funnelSvg(steps) {
  const row = 24, labelW = 170, barW = 420, top = Math.max(1, ...steps.map((s) => s.entered));
  const g = svg("svg", { width: labelW + barW + 420, height: row * steps.length + 10, id: "funnel" });
  steps.forEach((s, i) => {
    const y = 4 + i * row, wp = barW * s.passed / top, wr = barW * s.rejected / top;
    const reasons = Object.entries(s.reasons).map(([k, n]) => `${k} ${n}`).join(", ");
    g.append(
      svg("text", { x: s.stage ? 14 : 0, y: y + 15, "font-weight": s.stage ? 400 : 700 }, s.stage ? s.stage : s.kind + "s"),
      svg("rect", { x: labelW, y: y + 3, width: wp, height: row - 8, fill: COLORS.passed }),
      svg("rect", { x: labelW + wp, y: y + 3, width: wr, height: row - 8, fill: COLORS.rejected }, svg("title", {}, reasons)),
      svg("text", { x: labelW + wp + wr + 6, y: y + 15 }, String(s.passed) + (s.rejected ? `  (−${s.rejected}: ${reasons})` : "")));
  });
  return g;
}

function histSvg(h) {
  const W = 300, H = 170, x0 = 34, y0 = 22, w = W - 50, hh = H - 60, bins = h.passed.length;
  const totals = h.passed.map((_, i) => h.passed[i] + h.rejected[i] + h.other[i]);
  const top = Math.max(1, ...totals), bw = w / bins;
  const g = svg("svg", { width: W, height: H, class: "hist", "data-score": h.score });
  g.append(svg("text", { x: 0, y: 13, "font-weight": 700 }, `${h.score} (${h.stage})`));
  for (let i = 0; i < bins; i++) {
    let y = y0 + hh;
    for (const cls of ["passed", "rejected", "other"]) {
      const n = h[cls][i];
      if (!n) continue;
      const bh = hh * n / top;
      g.append(svg("rect", { x: x0 + i * bw + 1, y: y - bh, width: bw - 2, height: bh, fill: COLORS[cls] },
        svg("title", {}, `${n} ${cls}: ${fmt(h.lo + (h.hi - h.lo) * i / bins)}..${fmt(h.lo + (h.hi - h.lo) * (i + 1) / bins)}`)));
      y -= bh;
    }
  }
  g.append(svg("line", { x1: x0, y1: y0 + hh, x2: x0 + w, y2: y0 + hh, stroke: "#888" }),
    svg("line", { x1: x0, y1: y0, x2: x0, y2: y0 + hh, stroke: "#888" }),
    svg("text", { x: x0 - 4, y: y0 + 4, "text-anchor": "end" }, String(top)),
    svg("text", { x: x0, y: y0 + hh + 14, "text-anchor": "middle" }, fmt(h.lo)),
    svg("text", { x: x0 + w, y: y0 + hh + 14, "text-anchor": "end" }, fmt(h.hi)));
  if (h.threshold !== null && h.threshold >= h.lo && h.threshold <= h.hi) {
    const tx = x0 + w * (h.threshold - h.lo) / (h.hi - h.lo);
    g.append(svg("line", { x1: tx, y1: y0 - 4, x2: tx, y2: y0 + hh, stroke: "#222", "stroke-dasharray": "4 3", "stroke-width": 1.5 }),
      svg("text", { x: tx, y: y0 + hh + 28, "text-anchor": "middle" }, `${h.above ? "max" : "min"} ${fmt(h.threshold)}`));
  }
  return g;
}

function showCharts() {
  renderTabs("charts");
  $("main").classList.add("charts");
  const box = $("#charts");
  box.hidden = false;
  const c = Data.info.charts;
  if (!c) { box.replaceChildren(el("p", {}, "This dataset has no build records (.ditto/records.json): no funnel or score charts.")); return; }
  const rejections = [];
  for (const s of c.funnel) for (const [reason, n] of Object.entries(s.reasons))
    rejections.push(el("tr", {}, el("td", {}, s.kind), el("td", {}, s.stage), el("td", {},
      el("a", { href: makeHash("rejected", "", { text: "", facets: { stage: s.stage, reason }, ranges: {}, sort: "", desc: false }, 0) }, reason)),
      el("td", { class: "num" }, n)));
  box.replaceChildren(
    el("h3", {}, "funnel: records each stage received, passed (green) and rejected (red)"), funnelSvg(c.funnel),
    el("h3", {}, "rejections by stage and reason"),
    rejections.length ? el("table", { class: "kv", id: "rejections" }, el("tr", {}, ["kind", "stage", "reason", "records"].map((h) => el("th", {}, h))), rejections)
      : el("p", {}, "No record was rejected."),
    el("h3", {}, "scores: what each threshold throws away"),
    el("div", { class: "legend" }, Object.entries({ passed: "passed", rejected: "rejected for this score", other: "rejected otherwise" })
      .map(([k, label]) => [el("span", { style: `background:${COLORS[k]}` }), label])),
    el("div", { class: "hists" }, c.histograms.map(histSvg)));
}

/* ---------------------------------------------------------------- start */

async function main() {
  try {
    Data.info = await Data.getInfo();
  } catch (e) {
    document.body.append(el("div", { class: "error" }, "cannot load the dataset: " + (e.message || e)));
    return;
  }
  $("#dataset-name").textContent = Data.info.name;
  document.title = "ditto-data view · " + Data.info.name;
  for (const h of (Data.info.charts || {}).histograms || []) state.thresholds[h.score] = h;
  window.addEventListener("hashchange", route);
  await route();
  document.body.dataset.ready = "1";
}
window.addEventListener("keydown", (ev) => {
  if (!player || ev.target.matches("input, select, textarea")) return;
  if (ev.key === " ") { ev.preventDefault(); player.toggle(); }
  if (ev.key === "ArrowLeft" || ev.key === ",") player.step(-1);
  if (ev.key === "ArrowRight" || ev.key === ".") player.step(1);
});
main();
