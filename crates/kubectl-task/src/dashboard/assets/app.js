// mini-task dashboard: live updates, log streaming, local times.
// The pages read without this script; it only keeps them current.
"use strict";

const MAX_LOG_LINES = 5000;

function localTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const at = new Date(el.getAttribute("datetime"));
    if (!isNaN(at)) el.textContent = at.toLocaleString();
  }
}

function confirmForms(root) {
  for (const form of root.querySelectorAll("form[data-confirm]")) {
    if (form.dataset.bound) continue;
    form.dataset.bound = "1";
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

// The page's live part is fetched again whenever the server says it changed.
function follow(main) {
  const live = document.getElementById("live");
  if (!main.dataset.live || !live) return;
  let busy = false, again = false;
  const refresh = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const response = await fetch(location.href, { headers: { "X-Fragment": "1" }, credentials: "same-origin" });
      if (response.ok) {
        const html = await response.text();
        const doc = new DOMParser().parseFromString(html, "text/html");
        const fresh = doc.getElementById("live");
        if (fresh) {
          const before = startedSteps();
          live.replaceChildren(...fresh.childNodes);
          localTimes(live);
          confirmForms(live);
          if (startedSteps() !== before) await addLogPanes();
        }
      }
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  };
  const events = new EventSource(main.dataset.live);
  events.onmessage = refresh;
  document.documentElement.dataset.live = "connected";
  events.onerror = () => { document.documentElement.dataset.live = "reconnecting"; };
  events.onopen = () => { document.documentElement.dataset.live = "connected"; };
}

// A running step's log: its last lines, then each line as it comes, keeping
// at most MAX_LOG_LINES in the page (the whole log is behind its link).
function streamLog(pre) {
  let lines = [];
  let dropped = false;
  pre.textContent = "";
  const events = new EventSource(pre.dataset.follow);
  events.onmessage = (event) => {
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    lines.push(...event.data.split("\n"));
    if (lines.length > MAX_LOG_LINES) {
      lines = lines.slice(lines.length - MAX_LOG_LINES);
      dropped = true;
    }
    pre.textContent = (dropped ? "[earlier lines: see the whole log]\n" : "") + lines.join("\n") + "\n";
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  };
  events.addEventListener("end", () => { events.close(); pre.dataset.ended = "1"; });
}

function startedSteps() {
  const marker = document.getElementById("steps-started");
  return marker ? marker.dataset.started : "";
}

// Steps that started after the page loaded: their panes, from the whole page.
async function addLogPanes() {
  const logs = document.getElementById("logs");
  if (!logs) return;
  const response = await fetch(location.href, { credentials: "same-origin" });
  if (!response.ok) return;
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = doc.getElementById("logs");
  if (!fresh) return;
  for (const pane of fresh.querySelectorAll("details.log[data-key]")) {
    const known = [...logs.querySelectorAll("details.log[data-key]")].some((p) => p.dataset.key === pane.dataset.key);
    if (known) continue;
    const added = document.importNode(pane, true);
    logs.appendChild(added);
    for (const note of logs.querySelectorAll("p.waiting")) note.remove();
    for (const pre of added.querySelectorAll("pre[data-follow]")) streamLog(pre);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  confirmForms(document);
  const main = document.querySelector("main[data-live]");
  if (main) follow(main);
  for (const pre of document.querySelectorAll("pre[data-follow]")) streamLog(pre);
});
