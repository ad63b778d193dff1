// The API token page: a Copy button for a new token, and a confirmation before Revoke.
(function () {
  "use strict";

  var copy = document.querySelector("[data-copy-target]");
  if (copy) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      var input = document.getElementById(copy.dataset.copyTarget);
      var status = document.getElementById(copy.dataset.copyStatus);
      input.select();
      var done = function () {
        status.textContent = "Copied.";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          status.textContent = "Select the token and copy it with Ctrl+C.";
        });
      } else {
        // Plain-HTTP pages have no clipboard API; the older command still copies a selection.
        status.textContent = document.execCommand("copy") ? "Copied." : "Select the token and copy it with Ctrl+C.";
      }
    });
  }

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });
})();
