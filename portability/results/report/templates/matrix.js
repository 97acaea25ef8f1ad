// The portability matrix and the function table, drawn from the JSON the report embeds
// (portability/results/report/matrix.py says what each field is). Every string that comes from a run
// file reaches the page through esc() or textContent, never as markup.
(() => {
  "use strict";
  const M = JSON.parse(document.getElementById("matrix-data").textContent);
  const S = M.strings;
  const CL = M.classes;
  const str = (i) => (i === undefined || i < 0 ? "" : S[i]);
  const esc = (t) => String(t).replace(/[&<>"']/g, (ch) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[ch]));
  const WORD = {"pass": "pass", "slowdown": "slow", "compiles": "compiles", "port-partial": "partial",
                "port-complete": "fails", "lim-partial": "partial", "lim-complete": "fails", "unavailable": "n/a"};
  const SEVERITY = {"port-complete": 0, "port-partial": 1, "lim-complete": 2, "lim-partial": 3, "slowdown": 4,
                    "compiles": 5, "pass": 6, "unavailable": 7};
  const PAPER = {"pass": "pass", "partial_failure": "port-partial", "complete_failure": "port-complete"};
  const state = {sort: "category", names: false};

  const fmtUs = (us) => !us ? "-" : us < 1e3 ? `${us} µs` : us < 1e6 ? `${+(us / 1e3).toPrecision(3)} ms` : `${+(us / 1e6).toPrecision(3)} s`;
  const cellClass = (cell) => (cell[0] < 0 ? "none" : CL[cell[0]]);
  const paperClass = (v) => (v === undefined ? "none" : PAPER[v] || "unavailable");
  const failing = (cls) => cls.endsWith("partial") || cls.endsWith("complete");

  // -- rows in the order asked for, in groups ----------------------------------------------------
  function ordered(fw) {
    const rows = fw.rows.map((r, i) => i);
    const R = fw.rows;
    const fails = (i) => R[i].cells.filter((c) => failing(cellClass(c))).length;
    const sorts = {
      category: [(a, b) => R[a].category.localeCompare(R[b].category) || R[b].calls - R[a].calls || R[a].api.localeCompare(R[b].api),
                 (i) => R[i].category || "(none)"],
      usage: [(a, b) => R[b].calls - R[a].calls || R[a].api.localeCompare(R[b].api),
              (i) => (R[i].decile === null || R[i].decile === undefined ? "not in the usage sample" : `usage decile ${R[i].decile}`)],
      failures: [(a, b) => fails(b) - fails(a) || R[b].calls - R[a].calls || R[a].api.localeCompare(R[b].api),
                 (i) => `failing on ${fails(i)} of ${fw.columns.length}`],
      name: [(a, b) => R[a].api.localeCompare(R[b].api), () => ""],
    };
    const [cmp, group] = sorts[state.sort];
    rows.sort(cmp);
    const groups = [];
    for (const i of rows) {
      const g = group(i);
      if (!groups.length || groups[groups.length - 1].label !== g) groups.push({label: g, rows: []});
      groups[groups.length - 1].rows.push(i);
    }
    return groups;
  }

  // -- the matrix --------------------------------------------------------------------------------
  function columnLabels(fw) {
    const varies = (key) => new Set(fw.columns.map((c) => c[key])).size > 1;
    const v = varies("version"), r = varies("run");
    // the run by its id's own suffix; the other environment of an against run marked B
    return fw.columns.map((c) => [c.target, v ? c.version : "", r ? c.run.replace(/^.*-([0-9a-f]+)( \(against\))?$/, (m, id, b) => id + (b ? " B" : "")) : ""]
      .filter(Boolean).join(" · "));
  }

  function renderPanel(fi) {
    const fw = M.frameworks[fi];
    const panel = document.querySelector(`.mx-panel[data-fw="${fi}"]`);
    const grid = panel.querySelector(".mx-grid");
    const side = panel.querySelector(".mx-groups");
    const labels = columnLabels(fw);
    const np = fw.paper_columns.length;
    const parts = [`<b class="mx-h mx-fnh">function</b>`];
    labels.forEach((l, j) => parts.push(`<b class="mx-h" title="${esc(fw.columns[j].label)}"><span>${esc(l)}</span></b>`));
    parts.push(`<b class="mx-h"></b>`);
    fw.paper_columns.forEach((l) => parts.push(`<b class="mx-h mx-paperh" title="the study's verdict (its sample)"><span>${esc(l)}</span></b>`));
    const gparts = [];
    for (const g of ordered(fw)) {
      gparts.push(`<div class="mx-g" style="height:calc(var(--row-h) * ${g.rows.length})" title="${esc(g.label)} (${g.rows.length})"><span>${esc(g.label)}</span></div>`);
      g.rows.forEach((i, n) => {
        const row = fw.rows[i];
        const first = n === 0 ? " gs" : "";
        parts.push(`<i class="mx-fn${first}" data-r="${i}">${esc(row.api)}</i>`);
        row.cells.forEach((cell, j) => parts.push(`<i class="c ${cellClass(cell)} j${j}${first}"></i>`));
        parts.push(`<i class="mx-gap${first}"></i>`);
        for (let p = 0; p < np; p++) parts.push(`<i class="c ${paperClass(row.paper ? row.paper[p] : undefined)} p${p}${first}"></i>`);
      });
    }
    grid.style.gridTemplateColumns = `var(--name-w) repeat(${fw.columns.length}, minmax(14px, 36px)) 6px` + (np ? ` repeat(${np}, minmax(14px, 24px))` : "");
    grid.innerHTML = parts.join("");
    side.innerHTML = gparts.join("");
  }

  function locate(fi, el) {
    // the element's row and column from its place among the grid's children
    const fw = M.frameworks[fi];
    const grid = el.parentElement;
    const per = fw.columns.length + fw.paper_columns.length + 2;
    const idx = Array.prototype.indexOf.call(grid.children, el) - per;
    if (idx < 0) return null;
    const rowEl = grid.children[per + Math.floor(idx / per) * per];
    const k = idx % per;
    if (k === 0 || k === fw.columns.length + 1) return null;
    const paper = k > fw.columns.length + 1 ? k - fw.columns.length - 2 : -1;
    return {fi, r: +rowEl.dataset.r, c: paper < 0 ? k - 1 : -1, paper};
  }

  const hover = document.getElementById("mx-hover");
  function describe(at) {
    const fw = M.frameworks[at.fi];
    const row = fw.rows[at.r];
    if (at.paper >= 0) {
      const v = row.paper ? row.paper[at.paper] : undefined;
      return `${row.api} · ${fw.paper_columns[at.paper]}: ${v === undefined ? "not in the study's sample" : v.replace("_", " ")}`;
    }
    const cell = row.cells[at.c];
    const cls = cellClass(cell);
    return `${row.api} · ${fw.columns[at.c].label}: ${cls === "none" ? "no case" : M.legend[cls]} (${cell[2]} case${cell[2] === 1 ? "" : "s"})`;
  }

  // -- the cases of a cell, in the drawer ----------------------------------------------------------
  const drawer = document.getElementById("cell-details");
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function caseItem(fw, row, k) {
    const li = el("li", "case");
    const outcome = str(k[1]);
    li.append(el("code", "outcome " + (outcome.startsWith("fail") ? "bad" : ""), outcome), " ", el("span", "key", row.api + str(k[0])));
    const t = [];
    if (k[4]) t.push(`median ${fmtUs(k[4])}`);
    if (k[5]) t.push(`${k[5]}x the ${str(k[8])}` + (k[6] ? ` (95% CI ${k[6]}-${k[7]})` : ""));
    if (k[9]) t.push(`first call ${fmtUs(k[9])}`);
    if (k[11]) t.push(`compiled in ${fmtUs(k[11])}`);
    if (str(k[10])) t.push(str(k[10]));
    if (t.length) li.append(el("div", "timing", t.join("; ")));
    if (str(k[3])) li.append(el("pre", "error", str(k[3])));
    const repro = str(k[2]);
    if (repro) li.append(el("pre", "repro", repro.replace(M.id_mark, str(row.file) + row.api + str(k[0]))));
    return li;
  }
  function showCell(at) {
    const fw = M.frameworks[at.fi];
    const row = fw.rows[at.r];
    drawer.replaceChildren();
    const close = el("button", "close", "close ×");
    close.addEventListener("click", () => drawer.classList.remove("open"));
    drawer.append(close, el("h3", "", row.api), el("p", "muted", `${fw.framework} · ${row.category} · ${row.calls} calls in the usage sample`));
    drawer.append(el("p", "what", describe(at)));
    if (at.c >= 0) {
      const cell = row.cells[at.c];
      const col = fw.columns[at.c];
      if (col.reference) drawer.append(el("p", "muted", `compared with ${col.reference === col.target.split(" ")[0] ? "its eager call" : col.reference} in the same run`));
      const ul = el("ul", "cases");
      for (let i = cell[1]; i < cell[1] + cell[2]; i++) ul.append(caseItem(fw, row, M.cases[i]));
      drawer.append(ul);
    }
    drawer.classList.add("open");
    drawer.dataset.cell = `${at.fi}|${at.r}|${at.c}|${at.paper}`;
  }

  function wire(fi) {
    const grid = document.querySelector(`.mx-panel[data-fw="${fi}"] .mx-grid`);
    grid.addEventListener("mouseover", (e) => {
      const at = e.target.classList.contains("c") && locate(fi, e.target);
      if (!at) { hover.hidden = true; return; }
      hover.textContent = describe(at);
      hover.hidden = false;
    });
    grid.addEventListener("mousemove", (e) => {
      hover.style.left = `${Math.min(e.clientX + 14, window.innerWidth - 380)}px`;
      hover.style.top = `${e.clientY + 14}px`;
    });
    grid.addEventListener("mouseleave", () => { hover.hidden = true; });
    grid.addEventListener("click", (e) => {
      const at = e.target.classList.contains("c") && locate(fi, e.target);
      if (at) showCell(at);
    });
  }

  function renderAll() {
    document.getElementById("matrix").classList.toggle("names", state.names);
    M.frameworks.forEach((fw, fi) => renderPanel(fi));
  }
  document.getElementById("mx-sort").addEventListener("change", (e) => { state.sort = e.target.value; renderAll(); });
  document.getElementById("mx-names").addEventListener("change", (e) => { state.names = e.target.checked; renderAll(); });
  M.frameworks.forEach((fw, fi) => wire(fi));
  renderAll();

  // -- the function table ----------------------------------------------------------------------------
  const table = {fw: 0, query: "", portability: false, sort: [0, 1], shown: 100};
  const tbl = document.getElementById("functions-table");
  const worst = (fw, row) => {
    let w = 0;
    for (const cell of row.cells) for (let i = cell[1]; i < cell[1] + cell[2]; i++) w = Math.max(w, M.cases[i][5] || 0);
    return w;
  };
  function renderTable() {
    const fw = M.frameworks[table.fw];
    if (!fw) { tbl.replaceChildren(); return; }
    const labels = columnLabels(fw);
    const head = ["function", ...labels, ...fw.paper_columns, "worst ratio", "category", "calls", "decile"];
    const nv = fw.columns.length, np = fw.paper_columns.length;
    const key = (row, k) => {
      if (k === 0) return row.api;
      if (k <= nv) return SEVERITY[cellClass(row.cells[k - 1])] ?? 9;
      if (k <= nv + np) return SEVERITY[paperClass(row.paper ? row.paper[k - nv - 1] : undefined)] ?? 9;
      return [worst(fw, row), row.category, row.calls, row.decile ?? -1][k - nv - np - 1];
    };
    const q = table.query.toLowerCase();
    let rows = fw.rows.map((r, i) => i).filter((i) => {
      const row = fw.rows[i];
      if (q && !row.api.toLowerCase().includes(q) && !row.category.toLowerCase().includes(q)) return false;
      return !table.portability || row.cells.some((c) => cellClass(c).startsWith("port-"));
    });
    const [sk, dir] = table.sort;
    rows.sort((a, b) => {
      const x = key(fw.rows[a], sk), y = key(fw.rows[b], sk);
      return (typeof x === "string" ? x.localeCompare(y) : x - y) * dir || fw.rows[a].api.localeCompare(fw.rows[b].api);
    });
    const total = rows.length;
    rows = rows.slice(0, table.shown);
    const out = ["<thead><tr>"];
    head.forEach((h, k) => {
      const sorted = sk === k ? (dir > 0 ? " ▲" : " ▼") : "";
      const cls = k >= 1 && k <= nv + np ? "vcol" : k === 0 ? "fcol" : k === nv + np + 2 ? "ocol cat" : "ocol";
      out.push(`<th class="${cls}" data-k="${k}" aria-sort="${sk === k ? (dir > 0 ? "ascending" : "descending") : "none"}" title="${esc(k >= 1 && k <= nv ? fw.columns[k - 1].label : h)}">${esc(h)}${sorted}</th>`);
    });
    out.push("</tr></thead><tbody>");
    for (const i of rows) {
      const row = fw.rows[i];
      out.push(`<tr data-r="${i}"><td class="fcol" title="${esc(row.api)}"><code>${esc(row.api)}</code></td>`);
      row.cells.forEach((cell, j) => {
        const cls = cellClass(cell);
        const fails = cell[2] && failing(cls) ? ` ${countFails(cell)}/${cell[2]}` : "";
        out.push(`<td class="v ${cls}" data-c="${j}">${cls === "none" ? "-" : WORD[cls] + fails}</td>`);
      });
      for (let p = 0; p < np; p++) {
        const v = row.paper ? row.paper[p] : undefined;
        out.push(`<td class="v ${paperClass(v)}" data-p="${p}">${v === undefined ? "" : esc(WORD[paperClass(v)] || v)}</td>`);
      }
      const w = worst(fw, row);
      out.push(`<td class="num">${w ? w.toFixed(2) : ""}</td><td>${esc(row.category)}</td><td class="num">${row.calls}</td><td class="num">${row.decile ?? ""}</td></tr>`);
    }
    out.push("</tbody>");
    tbl.innerHTML = out.join("");
    document.getElementById("ft-count").textContent = `${rows.length} of ${total} function${total === 1 ? "" : "s"} shown (${fw.rows.length} in ${fw.framework})`;
    document.getElementById("ft-more").hidden = total <= table.shown;
  }
  function countFails(cell) {
    let n = 0;
    for (let i = cell[1]; i < cell[1] + cell[2]; i++) if (str(M.cases[i][1]).startsWith("fail")) n++;
    return n;
  }
  tbl.addEventListener("click", (e) => {
    const th = e.target.closest("th");
    if (th) {
      const k = +th.dataset.k;
      table.sort = [k, table.sort[0] === k ? -table.sort[1] : 1];
      renderTable();
      return;
    }
    const td = e.target.closest("td[data-c], td[data-p]");
    if (!td) return;
    const r = +td.parentElement.dataset.r;
    showCell({fi: table.fw, r, c: td.dataset.c === undefined ? -1 : +td.dataset.c, paper: td.dataset.p === undefined ? -1 : +td.dataset.p});
  });
  document.getElementById("ft-framework").addEventListener("change", (e) => { table.fw = +e.target.value; table.shown = 100; renderTable(); });
  document.getElementById("ft-search").addEventListener("input", (e) => { table.query = e.target.value; renderTable(); });
  document.getElementById("ft-portability").addEventListener("change", (e) => { table.portability = e.target.checked; renderTable(); });
  document.getElementById("ft-more").addEventListener("click", () => { table.shown = Infinity; renderTable(); });
  renderTable();
  document.documentElement.dataset.matrixReady = "1";
})();
