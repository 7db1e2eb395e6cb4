// Runbooks: copy buttons on commands (a runbook's page, a checklist step opened on an incident).
// Without JavaScript the buttons stay hidden and the commands are plain, selectable text.
(function () {
  "use strict";
  if (window.runbooksLoaded) return;
  window.runbooksLoaded = true;

  function reveal(root) {
    root.querySelectorAll("button.copy[hidden]").forEach(function (button) {
      if (navigator.clipboard) button.hidden = false;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) return;
    var code = document.getElementById(button.dataset.copyTarget);
    if (!code) return;
    navigator.clipboard.writeText(code.textContent).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });
  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  // A polled checklist replaces itself (outerHTML): look again from the top.
  document.addEventListener("htmx:afterSettle", function () { reveal(document); });
  if (document.readyState !== "loading") reveal(document);
})();
