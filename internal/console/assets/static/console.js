// Köpir console: the little the pages cannot do by themselves — live
// refresh of a search, the progress of a bulk replay, and checking a held
// message's edit as the operator types. No library: each is a fetch.
"use strict";

function liveRefresh() {
  const results = document.getElementById("results");
  const live = document.getElementById("live");
  if (!results || !live) return;
  setInterval(async () => {
    if (!live.checked || document.hidden) return;
    const current = document.getElementById("results");
    try {
      const r = await fetch(current.dataset.fragment, { credentials: "same-origin" });
      if (!r.ok) return;
      const html = await r.text();
      const t = document.createElement("template");
      t.innerHTML = html.trim();
      const fresh = t.content.getElementById("results");
      if (fresh) current.replaceWith(fresh);
    } catch (e) { /* the next tick tries again */ }
  }, 5000);
}

function jobProgress() {
  const job = document.getElementById("job");
  if (!job) return;
  const tick = async () => {
    try {
      const r = await fetch(job.dataset.poll, { credentials: "same-origin" });
      if (r.ok) {
        const s = await r.json();
        const done = s.replayed + s.failed;
        const pct = s.total ? Math.floor(done * 100 / s.total) : (s.running ? 0 : 100);
        document.getElementById("progress").value = pct;
        document.getElementById("progress").textContent = pct + "%";
        document.getElementById("replayed").textContent = s.replayed;
        document.getElementById("failed").textContent = s.failed;
        document.getElementById("total").textContent = s.total;
        document.getElementById("state").textContent = s.running ? "running" : "finished";
        const errs = document.getElementById("errors");
        errs.replaceChildren(...(s.errors || []).map((e) => { const li = document.createElement("li"); li.textContent = e; return li; }));
        if (!s.running) return;
      }
    } catch (e) { /* try again */ }
    setTimeout(tick, 500);
  };
  tick();
}

function heldCheck() {
  const area = document.getElementById("payload");
  if (!area || !area.dataset.check) return;
  const out = document.getElementById("problems");
  const submit = document.getElementById("propose");
  let timer = null, seq = 0;
  const check = async () => {
    const mine = ++seq;
    try {
      const r = await fetch(area.dataset.check, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": area.dataset.csrf },
        body: area.value,
      });
      const res = await r.json();
      if (mine !== seq) return; // an older answer arriving late
      const problems = res.problems || [];
      out.replaceChildren(...problems.map((p) => { const li = document.createElement("li"); li.textContent = (p.field ? p.field + ": " : "") + p.detail; return li; }));
      out.dataset.state = problems.length ? "invalid" : "valid";
      document.getElementById("check-state").textContent = problems.length ? problems.length + " problem(s)" : "No problem found";
      if (submit) submit.disabled = problems.length > 0;
    } catch (e) { /* keep the last answer */ }
  };
  area.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 250); });
  check();
}

document.addEventListener("DOMContentLoaded", () => { liveRefresh(); jobProgress(); heldCheck(); });
