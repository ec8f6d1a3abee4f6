// The dashboard: polls /api/v1/dashboard once a second and redraws; no reload needed.
"use strict";
const PAGE = 100, LB_PAGE = 50;
let offset = 0, query = "", problems = false, inflight = false, lastOk = 0, lbOffset = 0, lbQuery = "", lastHealth = null;
const expanded = new Set();  // LBs whose healthy addresses are shown too
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const clock = (t) => new Date(t * 1000).toLocaleTimeString();
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
const ago = (s) => s < 1 ? "now" : s < 120 ? `${s.toFixed(1)}s ago` : `${Math.round(s / 60)}m ago`;

function rows(tbody, html) { tbody.innerHTML = html.join("") || '<tr><td colspan="9" class="muted">none</td></tr>'; }

function drawHeader(d) {
  const s = d.summary;
  $("region").textContent = d.region;
  const parts = [`newest plan <b>${s.newest}</b>`, `${s.stored_plans} plans stored`,
    `${s.endpoints} endpoints`, `<span class="${s.empty_endpoints ? "bad" : "good"}">${s.empty_endpoints} empty</span>`,
    `${s.lagging_endpoints} behind`];
  if (s.plan_age !== null) parts.push(`newest plan ${ago(s.plan_age)}`);
  if (s.frozen) parts.push('<span class="badge">FROZEN</span>');
  if (s.error) parts.push(`<span class="bad">${esc(s.error)}</span>`);
  $("headline").innerHTML = parts.join(" · ");
  $("updated").textContent = `updated ${clock(s.taken_at)}`;
}

function drawAlarms(alarms) {
  $("alarms").innerHTML = alarms.length ? alarms.map((a) =>
    `<li class="sev-${a.severity}" data-kind="${esc(a.kind)}"><span class="tag">${esc(a.severity)}</span> <b>${esc(a.kind)}</b> ${esc(a.message)} <span class="muted">since ${clock(a.since)}</span></li>`).join("")
    : '<li class="ok">no alarms</li>';
}

function drawCounters(c) {
  const names = [["write", "writes"], ["fenced", "stale writes fenced out"], ["refused", "empty answers refused"],
    ["publish", "plans published"], ["cleanup", "clean-up passes"], ["plans-deleted", "plans deleted by clean-up"], ["hold", "fail-static holds"],
    ["repair", "repairs"], ["legacy-write", "unfenced (legacy) writes"]];
  $("counters").innerHTML = names.map(([k, label]) =>
    `<tr data-kind="${k}"><th>${label}</th><td>${c[k] || 0}</td></tr>`).join("");
}

function drawTimeline(t) {
  const svg = $("timeline"), W = 600, H = 90;
  if (!t.length) { svg.innerHTML = ""; $("timeline-legend").textContent = "no plans yet"; return; }
  const t0 = t[0].at, t1 = Math.max(t[t.length - 1].at, t0 + 1);
  const g0 = t[0].generation, g1 = Math.max(t[t.length - 1].generation, g0 + 1);
  const x = (a) => 4 + (W - 8) * (a - t0) / (t1 - t0), y = (g) => H - 6 - (H - 12) * (g - g0) / (g1 - g0);
  const pts = t.map((p) => `${x(p.at).toFixed(1)},${y(p.generation).toFixed(1)}`).join(" ");
  const dots = t.filter((p) => p.kind !== "publish").map((p) =>
    `<circle cx="${x(p.at).toFixed(1)}" cy="${y(p.generation).toFixed(1)}" r="3" class="dot-${esc(p.kind)}"><title>${esc(p.kind)} ${p.generation}</title></circle>`).join("");
  svg.innerHTML = `<polyline points="${pts}" class="line"/>` + dots;
  $("timeline-legend").textContent = `plans ${g0}–${t[t.length - 1].generation}, ${clock(t0)}–${clock(t[t.length - 1].at)}; red dots: fenced stale writes`;
}

function drawEnactors(items) {
  rows($("enactors").tBodies[0], items.map((h) => {
    const cls = h.age > 10 ? "bad" : (h.phase === "holding" || h.phase === "stuck" || h.phase === "backoff") ? "warn" : "";
    return `<tr class="${cls}" data-actor="${esc(h.actor)}"><td>${esc(h.actor)}</td><td>${ago(h.age)}</td><td>${h.generation}</td><td>${h.behind}</td><td>${esc(h.phase)}</td><td class="detail">${esc(h.detail)}</td></tr>`;
  }));
}

function drawLbs(h) {
  lastHealth = h;
  $("failstatic").classList.toggle("hidden", !h.fail_static);
  $("failstatic").title = h.fail_static_reason || "";
  $("budget").textContent = h.budget_held_back === null ? "" : `budget held back: ${h.budget_held_back}`;
  const v = h.vantage || {fresh: [], stale: []};
  $("vantage").textContent = h.health_at == null ? "no live health checks (static or demo health)" :
    `vantage points fresh: ${v.fresh.join(", ") || "none"}; stale: ${v.stale.join(", ") || "none"}` +
    (h.fail_static ? ` — FAIL-STATIC: ${h.fail_static_reason}` : "");
  const health = (l) => l.healthy === true ? ["good", "healthy"] : l.healthy === false ? ["bad", "unhealthy"] : ["", "?"];
  rows($("vantage-points").tBodies[0], (h.vantage_points || []).map((p) => {
    const ev = p.fresh === true ? ["good", "fresh"] : p.fresh === false ? ["bad", "stale"] : ["", "?"];
    const list = (m) => Object.entries(m).slice(0, 8).map(([lb, why]) => `${esc(lb)}${why ? ` (${esc(why)})` : ""}`).join(", ") + (Object.keys(m).length > 8 ? ` … ${Object.keys(m).length} in all` : "");
    return `<tr data-vantage="${esc(p.vantage)}" data-fresh="${p.fresh}"><td>${esc(p.vantage)}</td><td class="${ev[0]}">${ev[1]}</td><td>${ago(p.age)}</td><td>${p.healthy}/${p.lbs}</td><td class="${Object.keys(p.down).length ? "bad" : ""}">${list(p.down)}</td><td class="${Object.keys(p.failing).length ? "warn" : ""}">${list(p.failing)}</td></tr>`;
  }));
  $("lb-page").textContent = h.lb_total ? `${h.lb_offset + 1}–${Math.min(h.lb_offset + LB_PAGE, h.lb_total)} of ${h.lb_total} · ${h.lb_unhealthy} unhealthy · ${h.lb_serving} serving` +
    (h.address_problems ? ` · ${plural(h.address_problems, "address", "addresses")} not serving` : "") : "0";
  $("lb-prev").disabled = h.lb_offset === 0;
  $("lb-next").disabled = h.lb_offset + LB_PAGE >= h.lb_total;
  const focused = document.activeElement && document.activeElement.matches("button.addr-toggle") ? document.activeElement.dataset.lb : null;
  rows($("lbs").tBodies[0], h.lbs.map((l) => {
    const [cls, word] = health(l);
    const votes = l.down_at.length ? `<span class="bad">down at ${esc(l.down_at.join(", "))}</span>` : l.failing_at.length ? `<span class="warn">failing at ${esc(l.failing_at.join(", "))}</span>` : (h.vantage_points || []).length ? "all ok" : "";
    const addrs = l.address_rows || [];
    const bad = addrs.filter((a) => a.problem), open = expanded.has(l.lb);
    const toggle = addrs.length > bad.length ? ` <button type="button" class="addr-toggle" data-lb="${esc(l.lb)}" aria-expanded="${open}">${open ? "hide" : "show"} ${plural(addrs.length - bad.length, "healthy address", "healthy addresses")}</button>` : "";
    const summary = addrs.length ? ` <span class="${bad.length ? "bad" : "muted"}">${bad.length ? `${bad.length} of ${addrs.length} addresses not serving` : `${addrs.length} addresses`}</span>` : "";
    const row = `<tr data-lb="${esc(l.lb)}" data-healthy="${l.healthy}"><th scope="row">${esc(l.lb)}${summary}${toggle}</th><td>${esc(l.az ?? "")}</td><td class="${cls}">${word}</td><td class="votes">${votes}</td><td>${l.capacity ?? ""}</td><td>${l.planned ?? ""}</td><td>${l.endpoints}</td><td>${l.weight}</td><td class="${l.serving ? "good" : "bad"}">${l.serving ? "serving" : "no weight"}${l.held_back ? ` <span class="warn held">budget holds back ${l.held_back}</span>` : ""}</td><td class="detail">${esc(l.why ?? "")}</td></tr>`;
    return row + (open ? addrs : bad).map((a) => addressRow(l.lb, a)).join("");
  }));
  if (focused) { const b = $("lbs").querySelector(`button.addr-toggle[data-lb="${CSS.escape(focused)}"]`); if (b) b.focus(); }
  const lines = [
    ...h.held_back.map((b) => `held back by the budget: ${b.lb} ${b.wanted - b.removed} of ${b.wanted} (${b.bound})`),
    ...h.waiting.map((w) => `waiting: ${w}`),
    ...h.holds.map((o) => `operator ${o.kind}: ${o.scope} ${o.name} by ${o.actor}: ${o.reason}`),
  ];
  $("holds").innerHTML = lines.map((x) => `<li>${esc(x)}</li>`).join("");
}

// one probed address of an LB planned by address (state from api/addresses.py); keys
// the planner adds to an address row show as they come
const ADDRESS_KEYS = new Set(["healthy", "reason", "down", "fresh", "planned", "address", "state", "state_text", "problem", "waiting_why", "waiting_s", "exits"]);
const STATE_CLASS = {down: "bad", waiting: "warn", "left-out": "warn", healthy: "good", unknown: ""};
function addressRow(lb, a) {
  const votes = a.fresh == null ? "" : `${a.down ?? 0} of ${a.fresh} fresh say down`;
  const planned = a.planned === true ? "in the plan" : a.planned === false ? "out of the plan" : "";
  const left = typeof a.waiting_s === "number" && a.waiting_s > 0 ? [`${Math.ceil(a.waiting_s)} s of hold-down left`] : [];
  if (a.exits > 0) left.push(`left the plan ${plural(a.exits, "time", "times")} lately`);
  const extra = left.concat(Object.entries(a).filter(([k, v]) => !ADDRESS_KEYS.has(k) && v !== null && typeof v !== "object")
    .map(([k, v]) => `${esc(k.replace(/_/g, " "))}: ${esc(v)}`)).join("; ");
  const why = [a.reason, a.waiting_why].filter(Boolean).map(esc).join(" — ");
  return `<tr class="addr${a.problem ? " problem" : ""}" data-lb="${esc(lb)}" data-address="${esc(a.address)}" data-state="${esc(a.state)}"><th scope="row" class="addr-name"><span class="sr">${esc(lb)} address </span>&#8627; ${esc(a.address)}</th><td></td><td class="${STATE_CLASS[a.state] ?? ""}">${esc(a.state_text)}</td><td class="votes">${votes}</td><td></td><td class="${a.planned === false ? "warn" : ""}">${planned}</td><td></td><td></td><td>${extra}</td><td class="detail">${why}</td></tr>`;
}

function drawEndpoints(e) {
  $("ep-total").textContent = `(${e.total} shown of ${e.all})`;
  $("page").textContent = e.total ? `${e.offset + 1}–${Math.min(e.offset + e.limit, e.total)} of ${e.total}` : "0";
  $("prev").disabled = e.offset === 0;
  $("next").disabled = e.offset + e.limit >= e.total;
  rows($("endpoints").tBodies[0], e.items.map((r) => {
    const total = r.weights.reduce((a, w) => a + w.weight, 0) || 1;
    const byLb = {};
    for (const w of r.weights) byLb[w.lb] = (byLb[w.lb] || 0) + w.weight;
    const bars = Object.entries(byLb).map(([lb, w]) =>
      `<span class="w" style="flex:${w}" title="${esc(lb)}: ${w}">${esc(lb)} ${Math.round(100 * w / total)}%</span>`).join("");
    const cls = r.empty ? "bad" : r.lag > 0 ? "warn" : "";
    return `<tr class="${cls}" data-endpoint="${esc(r.name)}"><td>${esc(r.name)}</td><td>${r.generation}</td><td>${r.records}</td><td>${r.lag}</td><td>${r.pinned ?? ""}</td><td><div class="bars">${bars || '<span class="bad">EMPTY</span>'}</div></td></tr>`;
  }));
}

function drawAudit(items) {
  rows($("audit").tBodies[0], items.map((a) =>
    `<tr class="k-${esc(a.kind)}"><td>${a.seq}</td><td>${clock(a.at)}</td><td>${esc(a.actor)}</td><td>${esc(a.kind)}</td><td>${esc(a.endpoint)}</td><td>${a.generation || ""}</td><td class="detail">${esc(a.detail)}</td></tr>`));
}

async function refresh() {
  if (inflight) return;
  inflight = true;
  try {
    const q = new URLSearchParams({offset, limit: PAGE, q: query, problems, lb_offset: lbOffset, lb_limit: LB_PAGE, lb_q: lbQuery});
    const r = await fetch(`/api/v1/dashboard?${q}`, {cache: "no-store"});
    if (!r.ok) throw new Error(`${r.status}`);
    const d = await r.json();
    drawHeader(d); drawAlarms(d.alarms); drawCounters(d.counts); drawTimeline(d.timeline);
    drawEnactors(d.enactors); drawLbs(d.health); drawEndpoints(d.endpoints); drawAudit(d.audit);
    lastOk = Date.now();
    document.body.dataset.generation = d.summary.newest;
    document.body.classList.remove("offline");
  } catch (err) {
    document.body.classList.add("offline");
    $("updated").textContent = `API unreachable since ${new Date(lastOk || Date.now()).toLocaleTimeString()} (${err.message}); retrying`;
  } finally { inflight = false; }
}

let typing;
$("search").addEventListener("input", (ev) => { clearTimeout(typing); typing = setTimeout(() => { query = ev.target.value.trim(); offset = 0; refresh(); }, 150); });
$("problems").addEventListener("change", (ev) => { problems = ev.target.checked; offset = 0; refresh(); });
$("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); refresh(); });
$("next").addEventListener("click", () => { offset += PAGE; refresh(); });
let lbTyping;
$("lb-search").addEventListener("input", (ev) => { clearTimeout(lbTyping); lbTyping = setTimeout(() => { lbQuery = ev.target.value.trim(); lbOffset = 0; refresh(); }, 150); });
$("lb-prev").addEventListener("click", () => { lbOffset = Math.max(0, lbOffset - LB_PAGE); refresh(); });
$("lb-next").addEventListener("click", () => { lbOffset += LB_PAGE; refresh(); });
$("lbs").addEventListener("click", (ev) => {
  const b = ev.target.closest("button.addr-toggle");
  if (!b) return;
  if (!expanded.delete(b.dataset.lb)) expanded.add(b.dataset.lb);
  if (lastHealth) drawLbs(lastHealth);
});
refresh();
setInterval(refresh, 1000);
