// Live sync progress: polls the sync progress JSON and fills the page in.
//
// Markup: an element with `data-sync-progress` and `data-url` (the
// integrations:sync-progress URL, optionally with ?run=ID). Inside it:
//   [data-field="status_label"], [data-field="step_label"],
//   [data-field="progress.hosts_read"], [data-field="counts.indexed"], ...
//     get the value of that path in the run's JSON as their text
//     (count-like values are formatted with thousands separators);
//   such an element that also has `data-hide-empty` is hidden while its value is empty;
//   [data-when-active] is shown only while a run is queued or running;
//   [data-when-idle] is shown only while none is.
// The element's `data-status` attribute follows the run's status. With
// `data-reload-on-finish`, the page reloads when a run it saw active ends, unless a
// form on it contains unsaved edits: then a button offers the reload.
// Every poll also sends a `sync-progress` event on document with the JSON,
// so other pages (the dashboard) can react without copying this file.
// A button anywhere on the page with `data-idle-only` is disabled while a run
// is queued or running, unless the page already disabled it.
(function () {
  "use strict";

  var ACTIVE = { queued: true, running: true };
  var FAST_MS = 2000;
  var LONG_RUN_MS = 10000;
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
      var value = run ? lookup(run, element.dataset.field) : null;
      var text = run ? format(value) : "–";
      if (element.hasAttribute("data-hide-empty")) {
        element.hidden = value === null || value === undefined || value === "";
      }
      // Only a changed value is written: the region is live, and a screen
      // reader would read every rewrite.
      if (element.textContent !== text) {
        element.textContent = text;
      }
    });
    container.querySelectorAll("a[data-run-link]").forEach(function (link) {
      if (run) {
        link.href = run.url;
      }
    });
    show(container.querySelectorAll("[data-when-active]"), active);
    show(container.querySelectorAll("[data-when-idle]"), !active);
    var busy = active || Boolean(data.running);
    document.querySelectorAll("button[data-idle-only]").forEach(function (button) {
      if (busy && !button.disabled) {
        button.disabled = true;
        button.dataset.disabledForRun = "";
        button.title = "A sync is queued or running.";
      } else if (!busy && button.hasAttribute("data-disabled-for-run")) {
        button.disabled = false;
        delete button.dataset.disabledForRun;
        button.removeAttribute("title");
      }
    });
    return active;
  }

  // Whether a form on the page contains values the user typed and has not submitted.
  function unsavedEdits() {
    return Array.prototype.some.call(document.querySelectorAll("form"), function (form) {
      return Array.prototype.some.call(form.elements, function (field) {
        if (field.type === "checkbox" || field.type === "radio") {
          return field.checked !== field.defaultChecked;
        }
        if (field.tagName === "SELECT") {
          return Array.prototype.some.call(field.options, function (option) {
            return option.selected !== option.defaultSelected;
          });
        }
        if (field.type === "hidden" || field.type === "file" || field.type === "submit") {
          return false;
        }
        return "defaultValue" in field && field.value !== field.defaultValue;
      });
    });
  }

  // Instead of a reload that would discard the edits: a notice with a button.
  function offerReload(container) {
    var notice = document.createElement("p");
    notice.setAttribute("role", "status");
    notice.textContent = "The sync has finished. ";
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = "Show its result";
    button.addEventListener("click", function () {
      window.location.reload();
    });
    var hint = document.createElement("span");
    hint.textContent = " (this reloads the page; submit the form first to keep your changes).";
    notice.append(button, hint);
    container.append(notice);
  }

  function watch(container) {
    var url = container.dataset.url;
    var sawActive = false;
    var polls = 0;

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
            if (unsavedEdits()) {
              offerReload(container);
            } else {
              window.location.reload();
            }
            return;
          }
          sawActive = sawActive || active;
          polls = active ? polls + 1 : 0;
          // A long sync is polled less often after its first minute.
          var delay = FAST_MS;
          if (!active) {
            delay = SLOW_MS;
          } else if (polls > 30) {
            delay = LONG_RUN_MS;
          }
          window.setTimeout(poll, delay);
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
