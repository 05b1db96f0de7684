// The SSO test session banner: count <time id="sso-test-countdown" data-seconds-left="N"> down to 0:00 each second.
// Served from our static files (no CDN, no inline script); without JavaScript the server-rendered time stays.
(function () {
  "use strict";
  var clock = document.getElementById("sso-test-countdown");
  if (!clock) { return; }
  var ends = Date.now() + 1000 * parseInt(clock.getAttribute("data-seconds-left"), 10);
  function tick() {
    var left = Math.max(0, Math.round((ends - Date.now()) / 1000));
    clock.textContent = Math.floor(left / 60) + ":" + ("0" + (left % 60)).slice(-2);
    if (left > 0) { window.setTimeout(tick, 1000); } else { clock.textContent = "0:00 (reload to sign in again)"; }
  }
  tick();
}());
