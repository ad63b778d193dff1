// On a narrow screen the trend chart scrolls sideways inside its figure. It opens
// scrolled to its right end, where the latest sync and the coverage axis are.
(function () {
  "use strict";
  document.querySelectorAll(".trend-scroll").forEach(function (figure) {
    figure.scrollLeft = figure.scrollWidth;
  });
})();
