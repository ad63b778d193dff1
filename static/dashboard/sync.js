// "Sync now" without leaving the page: post the form, then poll the progress
// endpoint and show the step until the run ends, then reload for new counts.
// Without JavaScript the form posts normally.
(function () {
  "use strict";
  const form = document.querySelector("form.sync-now");
  if (!form || !form.dataset.progressUrl || !window.fetch) return;
  const output = form.querySelector(".sync-progress");
  const button = form.querySelector("button");

  function show(text) { output.textContent = text; }

  function poll(url) {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => response.ok ? response.json() : Promise.reject(response.status))
      .then((data) => {
        const status = data.status || "";
        show(status + (data.step ? ": " + data.step : ""));
        if (["succeeded", "failed", "skipped"].includes(status)) {
          window.location.reload();
        } else {
          window.setTimeout(() => poll(url), 2000);
        }
      })
      .catch(() => show("Progress is not available; reload the page to see the result."));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    button.disabled = true;
    show("Starting the sync…");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then((response) => response.ok ? response.json().catch(() => ({})) : Promise.reject(response.status))
      .then((data) => poll(data.progress_url || form.dataset.progressUrl))
      .catch((status) => { button.disabled = false; show("The sync could not start (HTTP " + status + ")."); });
  });
})();
