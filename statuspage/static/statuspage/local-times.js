// The status page is one cached copy for every reader, so its times are written in UTC; here each
// becomes the reader's own time zone, with how long ago it was. Without JavaScript, UTC remains.
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });
  var relative = typeof Intl.RelativeTimeFormat === "function" ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;

  function ago(date) {
    if (!relative) return "";
    var minutes = Math.round((date.getTime() - Date.now()) / 60000);
    if (Math.abs(minutes) < 60) return relative.format(minutes, "minute");
    var hours = Math.round(minutes / 60);
    if (Math.abs(hours) < 48) return relative.format(hours, "hour");
    return relative.format(Math.round(hours / 24), "day");
  }

  function localize(root) {
    root.querySelectorAll("time[data-local]").forEach(function (node) {
      var start = new Date(node.getAttribute("datetime"));
      if (isNaN(start)) return;
      var until = node.getAttribute("data-until");
      var text = format.format(start);
      if (until && !isNaN(new Date(until))) text += " – " + format.format(new Date(until));
      node.textContent = text;
      node.title = (until ? "" : ago(start) + " · ") + start.toISOString().replace("T", " ").slice(0, 16) + " UTC";
    });
  }

  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  document.addEventListener("htmx:afterSwap", function (event) { localize(event.target); });
})();
