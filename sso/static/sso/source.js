// Choosing where the IdP settings come from opens that section (<details data-source="...">) and closes the others.
document.addEventListener("change", function (event) {
  var radio = event.target;
  if (radio.name !== "source" || radio.type !== "radio") return;
  document.querySelectorAll("details[data-source]").forEach(function (section) {
    section.open = section.getAttribute("data-source") === radio.value;
  });
});
