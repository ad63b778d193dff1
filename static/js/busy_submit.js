// Shows that a form was sent and keeps it from being sent twice: a submit
// button with `data-busy-label` takes that text once it sends its form, and
// every submit button of the form is disabled until the next page arrives.
// A page shown again from the browser's history gets its buttons back.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    // A form that a script stopped (a check that failed) is not on its way.
    if (event.defaultPrevented || !submitter || !submitter.hasAttribute("data-busy-label")) {
      return;
    }
    // After the submission has read the form and the button's formaction.
    window.setTimeout(function () {
      submitter.dataset.idleLabel = submitter.textContent;
      submitter.textContent = submitter.dataset.busyLabel;
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        if (!button.disabled) {
          button.disabled = true;
          button.dataset.busyDisabled = "";
        }
      });
    }, 0);
  });

  window.addEventListener("pageshow", function () {
    document.querySelectorAll("button[data-busy-disabled]").forEach(function (button) {
      button.disabled = false;
      delete button.dataset.busyDisabled;
      if (button.dataset.idleLabel) {
        button.textContent = button.dataset.idleLabel;
        delete button.dataset.idleLabel;
      }
    });
  });
})();
