// Before idle sign-out: show the server-rendered warning (#idle-warning) once the page has been idle for
// data-warn-after seconds; "Stay signed in" loads the page again, which counts as activity on the server.
// Served from our static files (no CDN, no inline script).
(function () {
  "use strict";
  var warning = document.getElementById("idle-warning");
  if (!warning) { return; }
  var warnAfter = parseInt(warning.getAttribute("data-warn-after"), 10);
  if (!(warnAfter > 0)) { return; }
  window.setTimeout(function () { warning.hidden = false; }, warnAfter * 1000);
}());
