// The operations page: one call to /v1/ops/summary, drawn as figures, a table and an SVG chart.
// authHeaders() and addTerm() come from api.js, loaded before this file.
"use strict";

const el = (id) => document.getElementById(id);

function figures(list, rows) {
  list.replaceChildren();
  for (const [term, value] of rows) addTerm(list, term, value);
}

function chart(days) {
  const ns = "http://www.w3.org/2000/svg";
  const width = 560, height = 180, pad = 24, gap = 8;
  const most = Math.max(1, ...days.map((d) => d.queries));
  const bar = (width - pad * 2) / days.length - gap;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 20}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", days.map((d) => `${d.day}: ${d.queries} queries, ${d.cache_hits} from cache`).join("; "));
  days.forEach((d, i) => {
    const x = pad + i * (bar + gap);
    for (const [value, color] of [[d.queries, "#9cc3f0"], [d.cache_hits, "#0b5cad"]]) {
      const h = ((height - pad) * value) / most;
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", x); rect.setAttribute("width", bar);
      rect.setAttribute("y", height - h); rect.setAttribute("height", h);
      rect.setAttribute("fill", color);
      svg.append(rect);
    }
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", x + bar / 2); label.setAttribute("y", height + 14);
    label.setAttribute("text-anchor", "middle"); label.setAttribute("font-size", "11");
    label.textContent = d.day.slice(5);
    svg.append(label);
    const count = document.createElementNS(ns, "text");
    count.setAttribute("x", x + bar / 2);
    count.setAttribute("y", height - ((height - pad) * d.queries) / most - 4);
    count.setAttribute("text-anchor", "middle"); count.setAttribute("font-size", "11");
    count.textContent = String(d.queries);
    svg.append(count);
  });
  el("chart").replaceChildren(svg);
}

async function load() {
  // The key pasted on the main page (same tab): see api.js.
  const response = await fetch("/v1/ops/summary", { headers: authHeaders() });
  const data = await response.json();
  if (!response.ok) {
    el("tier-state").textContent = `unavailable: ${data.error ? data.error.message : response.status}`;
    return;
  }
  el("tier-state").textContent = data.tier.usable ? `${data.tier.state}` : `${data.tier.state} (maintenance mode)`;
  el("tier-message").textContent = data.tier.message;
  figures(el("doc-figures"), [
    ["Tenant", data.tenant],
    ["Documents", `${data.documents} (${data.indexed} indexed, ${data.pending} pending, ${data.failed} failed)`],
    ["Passages indexed", String(data.chunks)],
  ]);
  const t = data.today;
  figures(el("today-figures"), [
    ["Queries", String(t.queries)],
    ["Cache hit rate", t.cache_hit_rate === null ? "no queries yet" : `${Math.round(t.cache_hit_rate * 100)}%`],
    ["Grounded answers", String(t.grounded)],
    ["Cost", `$${t.cost_usd.toFixed(6)}`],
  ]);
  const body = el("week").querySelector("tbody");
  body.replaceChildren(...data.days.map((d) => {
    const row = document.createElement("tr");
    for (const value of [d.day, d.queries, d.cache_hits, d.grounded, `$${d.cost_usd.toFixed(6)}`]) {
      const cell = document.createElement("td");
      cell.textContent = String(value);
      row.append(cell);
    }
    return row;
  }));
  chart(data.days);
}

document.addEventListener("DOMContentLoaded", load);
