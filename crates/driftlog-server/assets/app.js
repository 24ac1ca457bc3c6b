// driftlog dashboard: relative times and the two admin actions. No framework, no build step.
"use strict";

function ago(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return null;
  const s = Math.round((Date.now() - t) / 1000);
  const abs = Math.abs(s);
  const unit = abs < 90 ? [abs, "s"] : abs < 5400 ? [Math.round(abs / 60), "min"]
    : abs < 129600 ? [Math.round(abs / 3600), "h"] : [Math.round(abs / 86400), "d"];
  return s >= 0 ? `${unit[0]} ${unit[1]} ago` : `in ${unit[0]} ${unit[1]}`;
}

function relativeTimes() {
  for (const el of document.querySelectorAll("time[datetime]")) {
    const text = ago(el.getAttribute("datetime"));
    if (text) { el.title = el.getAttribute("datetime"); el.textContent = text; }
  }
}

// The API accepts the sign-in cookie for writes only with this header, which another site's
// page cannot send (a cross-site request would need CORS, which driftlog never grants).
async function post(url, body) {
  const r = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-requested-with": "driftlog" },
    body: JSON.stringify(body || {}),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText);
  return data;
}

function actions() {
  for (const b of document.querySelectorAll("button[data-ack]")) {
    b.addEventListener("click", async () => {
      const out = document.getElementById("ack-result");
      const note = document.getElementById("ack-note");
      try {
        await post(`/api/v1/findings/${b.dataset.ack}/ack`, { note: note && note.value ? note.value : null });
        location.reload();
      } catch (e) { out.textContent = e.message; }
    });
  }
  for (const b of document.querySelectorAll("button[data-run]")) {
    b.addEventListener("click", async () => {
      const out = document.getElementById("run-result");
      try {
        await post(`/api/v1/stacks/${encodeURIComponent(b.dataset.run)}/run`);
        out.textContent = "queued: the page refreshes when it has run";
        setTimeout(() => location.reload(), 4000);
      } catch (e) { out.textContent = e.message; }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => { relativeTimes(); actions(); });
