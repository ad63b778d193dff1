// The import form's button names what it does: "Preview" while the dry run
// box is ticked, "Import" otherwise.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  var box = form && form.querySelector("input[name=dry_run]");
  var button = form && form.querySelector("button[type=submit]");
  if (!box || !button) {
    return;
  }

  function name() {
    button.textContent = box.checked ? "Preview" : "Import";
    button.dataset.busyLabel = box.checked ? "Previewing…" : "Importing…";
  }

  box.addEventListener("change", name);
  name();
})();
