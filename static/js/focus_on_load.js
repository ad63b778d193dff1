// Moves the keyboard focus, once the page has loaded, to the element marked
// `data-focus-on-load` (an error summary, or the messages after a form was sent),
// so that a screen reader reads it first. The first such element wins.
(function () {
  "use strict";
  var target = document.querySelector("[data-focus-on-load]");
  if (target) {
    target.focus();
  }
})();
