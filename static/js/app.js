// Incident Desk: the few behaviours the server cannot render — the viewer's time zone, ticking
// countdowns and ages, and keyboard shortcuts. Everything works without this file.
(function () {
  "use strict";

  // Tell the server the viewer's time zone, so pages render times in it.
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && document.cookie.indexOf("tz=" + encodeURIComponent(zone)) === -1) {
    document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
  }

  function humanize(ms) {
    var seconds = Math.floor(Math.abs(ms) / 1000);
    if (seconds < 60) return seconds + " s";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    if (hours < 24) return minutes ? hours + " h " + minutes + " min" : hours + " h";
    var days = Math.floor(hours / 24);
    hours = hours % 24;
    return hours ? days + " d " + hours + " h" : days + " d";
  }

  function relative(date) {
    var delta = Date.now() - date.getTime();
    return delta >= 0 ? humanize(delta) + " ago" : "in " + humanize(delta);
  }

  // The countdown's wording, as core.formatting.countdown_text: "4 min 10 s" under ten
  // minutes, else "18 min", "1 h 5 min"; a duration, never a clock reading like "18:52".
  function countdownText(ms) {
    var seconds = Math.floor(Math.abs(ms) / 1000);
    if (seconds >= 600) return humanize(ms);
    var m = Math.floor(seconds / 60);
    var s = seconds % 60;
    if (!m) return s + " s";
    return s ? m + " min " + s + " s" : m + " min";
  }

  // Screen readers hear, politely, what changes without being asked for: an update falling
  // overdue, a new event on the timeline. The ticking text itself is not announced.
  function announce(text) {
    var region = document.getElementById("live-announcer");
    if (!region || !text) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-format='relative']").forEach(function (el) {
      el.textContent = relative(new Date(el.getAttribute("datetime")));
    });
    document.querySelectorAll("time[data-format='clock']").forEach(function (el) {
      el.title = relative(new Date(el.getAttribute("datetime")));
    });
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var left = new Date(el.dataset.due).getTime() - now;
      var overdue = left <= 0;
      el.textContent = overdue ? "Update overdue by " + countdownText(left) : "Update due in " + countdownText(left);
      if (overdue && !el.classList.contains("overdue")) {
        var row = el.closest("tr, .incident-header");
        var ref = row && row.querySelector(".ref");
        announce((ref ? ref.textContent + ": " : "") + "status update overdue");
      }
      el.classList.toggle("overdue", overdue);
      var tableRow = el.closest("tr");
      if (tableRow) tableRow.classList.toggle("row-overdue", overdue);
    });
  }

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.key === "n") {
      var declare = document.querySelector("a[href='/incidents/new/']");
      if (declare) {
        event.preventDefault();
        window.location.assign(declare.href);
      }
    } else if (event.key === "?") {
      var help = document.getElementById("keyboard-help");
      if (help && !help.open) {
        event.preventDefault();
        help.showModal();
      }
    } else if (event.key === "/") {
      // The page's search if it has one, else the runbook search (which takes the focus itself).
      event.preventDefault();
      var search = document.querySelector("input[type='search']");
      if (search) {
        search.focus();
        search.select();
      } else {
        window.location.assign("/runbooks/");
      }
    } else if (event.key === "u") {
      var progress = document.querySelector("#update-form textarea[name='progress']");
      if (progress) {
        event.preventDefault();
        progress.focus();
        progress.scrollIntoView({ block: "center" });
      }
    }
  });

  // A field the reader has changed from what the page drew.
  function edited(field) {
    if (field.type === "hidden" || field.type === "submit" || field.tagName === "BUTTON") return false;
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
    }
    return field.value !== field.defaultValue;
  }

  // Whether the reader is in the middle of something on the incident page: typing, an editor or
  // a checklist step open, a form changed, older timeline events loaded.
  function busy(body) {
    if (body.contains(document.activeElement) && typing(document.activeElement)) return true;
    if (body.querySelector(".editor form, details[open]:not(.timeline-filter), #timeline .older")) return true;
    return Array.prototype.some.call(body.querySelectorAll("form"), function (form) {
      return Array.prototype.some.call(form.elements, edited);
    });
  }

  // The live header (polled every 15 s) says when someone else changed the incident: redraw its
  // panels (roles, impact, controls, milestones) unless the reader is busy there; the next poll
  // tries again. A form sent from a page that missed a change is refused by the server anyway.
  function redrawIfChanged() {
    var body = document.getElementById("incident-body");
    var live = document.getElementById("incident-live");
    if (!window.htmx || !body || !live || !live.dataset.state || live.dataset.state === body.dataset.state) return;
    if (busy(body)) return;
    htmx.ajax("GET", window.location.pathname + window.location.search, { target: "#incident-body", swap: "outerHTML" });
  }

  // The phone menu: the button folds the header's links in and out.
  function setMenu(open) {
    var bar = document.querySelector(".topbar");
    var button = document.querySelector(".menu-toggle");
    if (!bar || !button) return;
    bar.classList.toggle("menu-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest(".menu-toggle")) {
      setMenu(!document.querySelector(".topbar.menu-open"));
    } else if (event.target.closest(".keyboard-help-open")) {
      var help = document.getElementById("keyboard-help");
      if (help && !help.open) help.showModal();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) {
      // Refused input comes back with 422 and the form with its reasons: show it.
      htmx.config.responseHandling = [
        { code: "204", swap: false },
        { code: "[23]..", swap: true },
        { code: "422", swap: true },
        { code: "[45]..", swap: false, error: true },
      ];
    }
    tick();
    setInterval(tick, 1000);
  });
  // A part of a page that polls skips a poll while it holds what data-poll-paused-by names (older
  // timeline events loaded, a checklist step's form open): htmx's own trigger filters would need
  // eval, which the Content-Security-Policy forbids.
  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    var pausedBy = elt && elt.dataset && elt.dataset.pollPausedBy;
    if (pausedBy && elt.querySelector(pausedBy)) event.preventDefault();
  });
  // And a poll that was already on its way when someone opened a step is not swapped in: it would
  // close the step and drop what they typed. Only the polling element's own requests: a form
  // inside it that targets it is a different requester, and its answer is swapped.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var config = event.detail.requestConfig;
    var elt = config && config.elt;
    var pausedBy = elt && elt.dataset && elt.dataset.pollPausedBy;
    if (pausedBy && elt.querySelector(pausedBy)) event.detail.shouldSwap = false;
  });
  // The newest timeline event before a swap, to tell a new one from a redraw.
  function newestEvent() {
    var first = document.querySelector("#timeline .event");
    return first ? parseInt(first.id.replace("event-", ""), 10) : 0;
  }
  var newestBeforeSwap = null;
  document.addEventListener("htmx:beforeSwap", function () {
    newestBeforeSwap = newestEvent();
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    tick();
    var newest = newestEvent();
    if (newestBeforeSwap !== null && newest > newestBeforeSwap) {
      var text = document.querySelector("#event-" + newest + " .event-text");
      if (text) announce("New on the timeline: " + text.textContent.replace(/\s+/g, " ").trim());
    }
    newestBeforeSwap = null;
    if (event.detail.elt && event.detail.elt.id === "incident-live") redrawIfChanged();
    // A refused form comes back with its reasons: put the cursor on the first field to fix.
    if (event.detail.xhr && event.detail.xhr.status === 422) {
      var invalid = document.querySelector("[aria-invalid='true'], .field:has(.field-errors li) :is(input, textarea, select)");
      if (invalid) invalid.focus();
    }
  });
})();
