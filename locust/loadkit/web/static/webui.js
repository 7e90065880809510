// loadkit's panel in Locust's web UI (see loadkit/web/ui.py): the content of the Baseline
// and Pacing tabs, and a shorter one under the start form. The page is React's: the panel is a node of its
// own beside React's, found again and re-placed on every tick, and never edits React's.
(function () {
  "use strict";
  const base = document.currentScript.src.replace(/loadwatch\/static\/webui\.js.*$/, "");
  const panel = document.createElement("section");
  panel.id = "loadwatch-panel";
  panel.style.cssText =
    "margin:12px 0;padding:12px 16px;border:1px solid #bbb;border-radius:6px;" +
    "background:#fff;color:#222;font-family:sans-serif;font-size:14px";
  let shown = null;
  let loadedAt = 0;
  let busy = false;

  function where() {
    const tabs = document.querySelector(".MuiTabs-root");
    if (tabs) {
      const tab = new URLSearchParams(window.location.search).get("tab");
      return tab === "baseline" || tab === "pacing" ? { name: tab, after: tabs.parentElement } : null;
    }
    const form = document.querySelector("form");
    return form ? { name: "start", after: form } : null;
  }

  function status(text, ok) {
    const line = panel.querySelector(".loadwatch-status");
    if (line) {
      line.textContent = text;
      line.style.color = ok ? "#1e8449" : "#c0392b";
    }
  }

  async function load(name) {
    busy = true;
    try {
      const response = await fetch(base + "loadwatch/panel/" + name, { credentials: "same-origin" });
      if (response.ok) {
        panel.innerHTML = await response.text();
        shown = name;
        loadedAt = Date.now();
      }
    } finally {
      busy = false;
    }
  }

  function tick() {
    const place = where();
    if (!place) {
      panel.remove();
      shown = null;
      return;
    }
    if (place.after.nextSibling !== panel) {
      place.after.after(panel);
    }
    const stale = Date.now() - loadedAt > 2000 && !panel.contains(document.activeElement);
    if (!busy && (shown !== place.name || stale)) {
      load(place.name);
    }
  }

  panel.addEventListener("submit", async function (event) {
    event.preventDefault();
    const form = event.target;
    const body = JSON.stringify(Object.fromEntries(new FormData(form)));
    const response = await fetch(base + form.dataset.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: body,
    });
    const answer = await response.json().catch(function () {
      return {};
    });
    const name = shown;
    if (name) {
      await load(name);
    }
    status(response.ok ? "Saved." : answer.detail || "Refused (" + response.status + ").", response.ok);
  });

  window.setInterval(tick, 300);
})();
