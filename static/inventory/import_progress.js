// Polls the progress of a running import and reloads the page, which then
// shows the report, once the import is done. No build step, no library.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-progress-url");
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");

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
