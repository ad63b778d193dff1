// Live sync progress: polls the sync progress JSON and fills the page in.
//
// Markup: an element with `data-sync-progress` and `data-url` (the
// integrations:sync-progress URL, optionally with ?run=ID). Inside it:
//   [data-field="status_label"], [data-field="step_label"],
//   [data-field="progress.hosts_read"], [data-field="counts.indexed"], ...
//     get the value of that path in the run's JSON as their text
//     (count-like values are formatted with thousands separators);
//   [data-when-active] is shown only while a run is queued or running;
//   [data-when-idle] is shown only while none is.
// The element's `data-status` attribute follows the run's status. With
// `data-reload-on-finish`, the page reloads when a run it saw active ends.
// Every poll also sends a `sync-progress` event on document with the JSON,
// so other pages (the dashboard) can react without copying this file.
(function () {
  "use strict";

  var ACTIVE = { queued: true, running: true };
  var FAST_MS = 2000;
  var SLOW_MS = 15000;

  function lookup(data, path) {
    return path.split(".").reduce(function (value, key) {
      return value === null || value === undefined ? value : value[key];
    }, data);
  }

  function format(value) {
    if (value === null || value === undefined || value === "") {
      return "–";
    }
    if (typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value))) {
      try {
        return BigInt(value).toLocaleString("en-US");
      } catch (error) {
        return String(value);
      }
    }
    return String(value);
  }

  function show(elements, visible) {
    elements.forEach(function (element) {
      element.hidden = !visible;
    });
  }

  function render(container, data) {
    var run = data.run;
    var active = Boolean(run && ACTIVE[run.status]);
    container.dataset.status = run ? run.status : "none";
    container.querySelectorAll("[data-field]").forEach(function (element) {
      element.textContent = run ? format(lookup(run, element.dataset.field)) : "–";
    });
    container.querySelectorAll("a[data-run-link]").forEach(function (link) {
      if (run) {
        link.href = run.url;
      }
    });
    show(container.querySelectorAll("[data-when-active]"), active);
    show(container.querySelectorAll("[data-when-idle]"), !active);
    return active;
  }

  function watch(container) {
    var url = container.dataset.url;
    var sawActive = false;

    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          var active = render(container, data);
          document.dispatchEvent(new CustomEvent("sync-progress", { detail: data }));
          if (sawActive && !active && container.hasAttribute("data-reload-on-finish")) {
            window.location.reload();
            return;
          }
          sawActive = sawActive || active;
          window.setTimeout(poll, active ? FAST_MS : SLOW_MS);
        })
        .catch(function () {
          // A failed poll (server restarting, network) is retried later.
          window.setTimeout(poll, SLOW_MS);
        });
    }

    poll();
  }

  function start() {
    document.querySelectorAll("[data-sync-progress]").forEach(watch);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
