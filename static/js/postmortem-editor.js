// The postmortem editor: autosave a second after typing stops, one section per request with the
// version that section's text was based on; unsaved text kept in localStorage so a reload or a lost
// connection loses nothing; failed saves retried with backoff and shown; a conflict shows both
// texts and lets the writer merge. Without this script the form still saves with its button.
(function () {
  "use strict";

  const DEBOUNCE_MS = 1000;
  const RETRY_MAX_MS = 30000;

  function start() {
    const form = document.getElementById("pm-form");
    if (!form || form.dataset.readonly) return;
    const prefix = "postmortem:" + form.dataset.postmortem + ":";
    const stateEl = document.getElementById("pm-save-state");
    const versionEl = document.getElementById("pm-version");
    const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    const boxes = Array.from(document.querySelectorAll('textarea[form="pm-form"]'));
    const sections = {};
    let timer = null;
    let saving = false;
    let again = false;
    let retryMs = 0;

    function setState(state, text) {
      stateEl.dataset.state = state;
      stateEl.textContent = text;
    }

    function sectionState(name, text, state) {
      const el = document.querySelector('[data-state-for="' + name + '"]');
      if (el) {
        el.textContent = text;
        el.dataset.state = state || "";
      }
    }

    function remember(section) {
      try {
        localStorage.setItem(prefix + section.name, JSON.stringify({ text: section.box.value, base: section.base }));
      } catch (e) {
        /* Storage full or disabled: autosave still runs. */
      }
    }

    function forget(section) {
      try {
        localStorage.removeItem(prefix + section.name);
      } catch (e) {
        /* ignore */
      }
    }

    function setBase(section, version) {
      section.base = version;
      const hidden = document.querySelector('input[form="pm-form"][name="base_' + section.name + '"]');
      if (hidden) hidden.value = version;
      if (versionEl && version > Number(versionEl.textContent)) versionEl.textContent = version;
    }

    function schedule(delay) {
      clearTimeout(timer);
      timer = setTimeout(saveAll, delay);
    }

    boxes.forEach(function (box) {
      const hidden = document.querySelector('input[form="pm-form"][name="base_' + box.name + '"]');
      const section = { name: box.name, box: box, base: Number(hidden.value), dirty: false, conflict: false };
      sections[box.name] = section;
      box.addEventListener("input", function () {
        section.dirty = true;
        remember(section);
        if (!section.conflict) {
          setState("dirty", "Unsaved changes…");
          schedule(DEBOUNCE_MS);
        }
      });
      // A draft left by a reload, a crash or a lost connection comes back with the version it
      // was based on, so the server can still tell whether someone else changed the section since.
      let draft = null;
      try {
        draft = JSON.parse(localStorage.getItem(prefix + box.name) || "null");
      } catch (e) {
        draft = null;
      }
      if (draft && typeof draft.text === "string") {
        if (draft.text === box.value) {
          forget(section);
        } else {
          box.value = draft.text;
          section.base = Number(draft.base) || section.base;
          if (hidden) hidden.value = section.base;
          section.dirty = true;
          sectionState(box.name, "Restored your unsaved text from this browser.", "restored");
          setTimeout(function () {
            if (window.htmx) window.htmx.trigger(box, "input");
          }, 0);
        }
      }
    });

    function post(section, text) {
      const body = new URLSearchParams();
      body.set("csrfmiddlewaretoken", csrf);
      body.set(section.name, text);
      body.set("base_" + section.name, String(section.base));
      return fetch(form.action, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrf },
      });
    }

    function showConflict(section, answer) {
      section.conflict = true;
      const holder = document.getElementById("section-" + section.name);
      let box = holder.querySelector(".pm-conflict");
      if (!box) {
        box = document.createElement("div");
        box.className = "pm-conflict";
        holder.insertBefore(box, holder.querySelector(".pm-edit"));
      }
      box.innerHTML = "";
      const p = document.createElement("p");
      p.className = "warn";
      p.textContent = answer.message + " Their current text:";
      const theirs = document.createElement("pre");
      theirs.className = "pm-theirs";
      theirs.textContent = answer.current;
      const help = document.createElement("p");
      help.className = "muted";
      help.textContent = "Your text is in the box. Merge there, then choose:";
      const actions = document.createElement("div");
      actions.className = "actions";
      function button(label, apply) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "button";
        b.textContent = label;
        b.addEventListener("click", function () {
          apply();
          section.conflict = false;
          section.dirty = true;
          setBase(section, answer.version);
          remember(section);
          box.remove();
          if (window.htmx) window.htmx.trigger(section.box, "input");
          schedule(0);
        });
        actions.appendChild(b);
        return b;
      }
      button("Save my merged text", function () {}).classList.add("button-primary");
      button("Put both texts in the box", function () {
        section.box.value = answer.current + "\n\n" + section.box.value;
      });
      button("Take theirs", function () {
        section.box.value = answer.current;
      });
      box.append(p, theirs, help, actions);
      sectionState(section.name, "Conflict: not saved until you merge.", "conflict");
      setState("conflict", "A section needs merging: " + answer.message);
    }

    async function saveOne(section) {
      const text = section.box.value;
      let response;
      try {
        response = await post(section, text);
      } catch (e) {
        return "offline";
      }
      if (response.status === 409) {
        showConflict(section, await response.json());
        return "conflict";
      }
      if (!response.ok) {
        let message = "Not saved (" + response.status + ")";
        try {
          message = (await response.json()).error || message;
        } catch (e) {
          /* not JSON */
        }
        if (response.status >= 500) return "offline";
        sectionState(section.name, message, "error");
        section.dirty = false;
        return "refused";
      }
      const answer = await response.json();
      setBase(section, answer.version);
      if (section.box.value === text) {
        section.dirty = false;
        forget(section);
      } else {
        remember(section);
      }
      sectionState(section.name, "Saved at " + answer.saved_label, "saved");
      section.savedLabel = answer.saved_label;
      return "saved";
    }

    async function saveAll() {
      if (saving) {
        again = true;
        return;
      }
      saving = true;
      let lastSaved = null;
      let failed = false;
      let conflicted = false;
      for (const name of Object.keys(sections)) {
        const section = sections[name];
        if (!section.dirty || section.conflict) continue;
        setState("saving", "Saving…");
        const outcome = await saveOne(section);
        if (outcome === "saved") lastSaved = section.savedLabel;
        if (outcome === "offline") failed = true;
        if (outcome === "conflict") conflicted = true;
        if (failed) break;
      }
      saving = false;
      if (failed) {
        retryMs = Math.min(retryMs ? retryMs * 2 : 2000, RETRY_MAX_MS);
        setState("error", "Not saved: connection problem. Your text is kept in this browser; retrying in " + retryMs / 1000 + " s…");
        schedule(retryMs);
        return;
      }
      retryMs = 0;
      if (again) {
        again = false;
        schedule(0);
        return;
      }
      const pending = Object.values(sections).some(function (s) {
        return s.dirty && !s.conflict;
      });
      if (conflicted || Object.values(sections).some(function (s) { return s.conflict; })) {
        return;
      }
      if (lastSaved && !pending) setState("saved", "Saved at " + lastSaved);
      else if (!pending && stateEl.dataset.state === "saving") setState("saved", "Saved");
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      Object.values(sections).forEach(function (s) {
        if (s.box.value !== s.box.defaultValue) s.dirty = true;
      });
      schedule(0);
    });
    window.addEventListener("online", function () {
      schedule(0);
    });
    if (Object.values(sections).some(function (s) { return s.dirty; })) {
      setState("dirty", "Restored unsaved text; saving…");
      schedule(DEBOUNCE_MS);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
