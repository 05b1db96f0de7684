// Copy buttons: <button type="button" data-copy="ID"> copies the value (or text) of the element with that id;
// <button type="button" data-print> prints the page (its print style shows the secret alone).
// Served from our static files (no CDN, no inline script); without JavaScript the field can still be selected.
(function () {
  "use strict";
  function copied(button, ok) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = ok ? "Copied" : "Select and copy it by hand";
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }
  function copy(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    var text = "value" in field ? field.value : field.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button, true); }, function () { copied(button, false); });
      return;
    }
    if (field.select) { field.select(); }
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    copied(button, ok);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (button) { copy(button); }
    if (event.target.closest && event.target.closest("button[data-print]")) { window.print(); }
  });
  document.querySelectorAll("button[data-copy], button[data-print]").forEach(function (button) { button.hidden = false; });
}());
