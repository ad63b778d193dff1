// Polls the progress of a running import and reloads the page, which then
// shows the report, once the import is done. No build step, no library.
// On the report page, a report reached this way takes the keyboard focus.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) {
    var heading = document.getElementById("report-heading");
    if (heading && window.location.hash === "#report-heading") {
      heading.focus();
    }
    return;
  }
  var url = box.getAttribute("data-progress-url");
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  // The visible text changes twice a second; a screen reader hears it through
  // this status at most every ANNOUNCE_MS.
  var announcement = document.getElementById("progress-announcement");
  var ANNOUNCE_MS = 15000;
  var announced = 0;

  // Polls may reach a web process that last heard of the import a moment
  // earlier, so the bar never moves back. The host count does not mention
  // writing, because a preview writes nothing.
  var shown = { percent: 0, hosts: 0 };

  function show(progress) {
    shown.percent = Math.max(shown.percent, progress.percent);
    shown.hosts = Math.max(shown.hosts, progress.hosts);
    bar.value = shown.percent;
    text.textContent =
      shown.percent + "% of the file read, " + shown.hosts.toLocaleString("en-US") +
      " hosts so far";
    var now = Date.now();
    if (announcement && now - announced >= ANNOUNCE_MS) {
      announced = now;
      announcement.textContent = "Importing: " + text.textContent + ".";
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (progress) {
        show(progress);
        if (progress.done) {
          // The reloaded page shows the report; its heading then takes the focus.
          window.location.replace(window.location.pathname + "#report-heading");
          window.location.reload();
        } else {
          window.setTimeout(poll, 500);
        }
      })
      .catch(function (error) {
        text.textContent = "progress unavailable (" + error.message + "), retrying";
        window.setTimeout(poll, 2000);
      });
  }

  poll();
})();
