// The print page's Print button (the browser's own Print works without it).
(function () {
  "use strict";
  var slot = document.querySelector("[data-print]");
  if (!slot) return;
  slot.hidden = false;
  slot.querySelector("button").addEventListener("click", function () { window.print(); });
})();
