// Constat: small progressive enhancements. No inline scripts (CSP script-src 'self').
document.addEventListener("DOMContentLoaded", () => {
  // Confirm destructive actions declared with data-confirm.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // Drag and drop onto an upload zone fills its file input.
  document.querySelectorAll("[data-dropzone]").forEach((zone) => {
    const input = zone.querySelector("input[type=file]");
    if (!input) return;
    ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    }));
    ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("dragging")));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      input.files = event.dataTransfer.files;
      input.dispatchEvent(new Event("change"));
    });
    input.addEventListener("change", () => {
      const list = zone.querySelector("[data-filelist]");
      if (list) list.textContent = Array.from(input.files).map((f) => f.name).join(", ");
    });
  });
});

// --- Issue 14: forms that validate once, nothing typed is lost, phone-first pages. ---
(() => {
  const DRAFT_PREFIX = "constat-draft:";
  const SUBMITTED_PREFIX = "constat-draft-sent:";
  const narrow = () => window.matchMedia("(max-width: 640px)").matches;

  // Open every closed <details> around an element, so a link to it lands on something visible.
  const reveal = (element) => {
    for (let node = element; node; node = node.parentElement) {
      if (node.tagName === "DETAILS" && !node.open) node.open = true;
    }
  };
  const targetOfHash = () => {
    if (!location.hash || location.hash.length < 2) return null;
    try { return document.getElementById(decodeURIComponent(location.hash.slice(1))); } catch (e) { return null; }
  };

  // Fields worth keeping: everything typed, never the CSRF token, the version or files.
  const draftFields = (form) => Array.from(form.elements).filter((el) => el.name && el.name !== "csrf_token"
    && el.name !== "version" && !["file", "password", "submit", "button", "hidden"].includes(el.type));
  const readDraft = (form) => {
    const data = {};
    draftFields(form).forEach((el) => {
      if (el.type === "checkbox" || el.type === "radio") {
        data[el.name] = data[el.name] || [];
        if (el.checked) data[el.name].push(el.value);
      } else {
        data[el.name] = el.value;
      }
    });
    return data;
  };
  const writeDraft = (form, data) => {
    draftFields(form).forEach((el) => {
      if (!(el.name in data)) return;
      if (el.type === "checkbox" || el.type === "radio") el.checked = data[el.name].includes(el.value);
      else el.value = data[el.name];
    });
  };
  const storage = (() => { try { return window.sessionStorage; } catch (e) { return null; } })();

  const setupDrafts = () => {
    if (!storage) return;
    // A success message after a submitted form: that draft is saved on the server, forget it.
    const succeeded = document.querySelector(".flash.success");
    Object.keys(storage).filter((k) => k.startsWith(SUBMITTED_PREFIX)).forEach((k) => {
      const key = k.slice(SUBMITTED_PREFIX.length);
      if (succeeded) storage.removeItem(DRAFT_PREFIX + key);
      if (succeeded || !document.querySelector(`form[data-draft="${key}"]`)) storage.removeItem(k);
    });
    document.querySelectorAll("form[data-draft]").forEach((form) => {
      const key = form.dataset.draft;
      const refused = document.querySelector("[data-error-summary]") || form.querySelector(".has-error");
      const saved = storage.getItem(DRAFT_PREFIX + key);
      // A refused submit shows what was typed (from the server); a fresh form gets the draft back.
      if (saved && !refused) {
        let data = null;
        try { data = JSON.parse(saved); } catch (e) { storage.removeItem(DRAFT_PREFIX + key); }
        if (data) {
          writeDraft(form, data);
          const note = document.createElement("div");
          note.className = "flash info draft-note";
          note.setAttribute("role", "status");
          note.innerHTML = "<span>Votre saisie précédente a été restaurée (elle n'était pas encore enregistrée).</span>";
          const clear = document.createElement("button");
          clear.type = "button";
          clear.className = "button";
          clear.textContent = "Effacer cette saisie";
          clear.addEventListener("click", () => {
            storage.removeItem(DRAFT_PREFIX + key);
            form.reset();
            note.remove();
          });
          note.appendChild(clear);
          form.insertBefore(note, form.firstChild);
          form.dataset.restored = "1";
        }
      }
      const save = () => storage.setItem(DRAFT_PREFIX + key, JSON.stringify(readDraft(form)));
      form.addEventListener("input", save);
      form.addEventListener("change", save);
      form.addEventListener("submit", () => { save(); storage.setItem(SUBMITTED_PREFIX + key, "1"); });
      // « Annuler » means the typing is not wanted.
      form.querySelectorAll("[data-draft-discard]").forEach((link) => link.addEventListener("click", () => {
        storage.removeItem(DRAFT_PREFIX + key);
      }));
    });
    // Logging out forgets every draft: the next person on this computer must not find them.
    document.querySelectorAll("form[data-logout]").forEach((form) => form.addEventListener("submit", () => {
      Object.keys(storage).filter((k) => k.startsWith(DRAFT_PREFIX) || k.startsWith(SUBMITTED_PREFIX))
        .forEach((k) => storage.removeItem(k));
    }));
  };

  const setupErrorSummary = () => {
    const summary = document.querySelector("[data-error-summary]");
    if (!summary) return;
    summary.querySelectorAll("a[href^='#']").forEach((link) => link.addEventListener("click", (event) => {
      const target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) return;
      event.preventDefault();
      reveal(target);
      const holder = target.closest(".field") || target;
      holder.scrollIntoView({ block: "start" });
      target.focus({ preventScroll: true });
    }));
    summary.focus();
    summary.scrollIntoView({ block: "start" });
  };

  const setupSections = () => {
    // Phones: long case pages start folded; wide screens: filters start open.
    if (narrow()) document.querySelectorAll("details[data-fold]").forEach((d) => { d.open = false; });
    else document.querySelectorAll("details[data-fold-wide]").forEach((d) => { d.open = true; });
    document.querySelectorAll(".has-error").forEach(reveal);
    const onHash = () => {
      const target = targetOfHash();
      if (!target) return;
      reveal(target);
      target.scrollIntoView({ block: "start" });
    };
    window.addEventListener("hashchange", onHash);
    document.querySelectorAll("a[href^='#']").forEach((link) => link.addEventListener("click", () => {
      const target = document.getElementById(link.getAttribute("href").slice(1));
      if (target) reveal(target);
    }));
    const target = targetOfHash();
    const flashes = document.querySelector(".flashes");
    // After a redirect to an anchor (#chronologie, #pieces) the message goes where the eye lands.
    if (target && flashes) target.insertAdjacentElement("afterend", flashes);
    onHash();
    // Printing a case prints every section, folded or not; the state comes back afterwards.
    let closed = [];
    window.addEventListener("beforeprint", () => {
      closed = Array.from(document.querySelectorAll("details:not([open])"));
      closed.forEach((d) => { d.open = true; });
    });
    window.addEventListener("afterprint", () => closed.forEach((d) => { d.open = false; }));
  };

  // Warn two minutes before the idle limit; « Rester connecté » asks the server to keep the session.
  const setupIdleWarning = () => {
    const body = document.body;
    const url = body.dataset.keepalive;
    let remaining = parseInt(body.dataset.idleSeconds || "", 10);
    if (!url || Number.isNaN(remaining)) return;
    let deadline = Date.now() + remaining * 1000;
    let box = null;
    let warnTimer = null;
    let tick = null;
    const hide = () => { if (box) { box.remove(); box = null; } if (tick) clearInterval(tick); };
    const schedule = () => {
      clearTimeout(warnTimer);
      warnTimer = setTimeout(show, Math.max(0, deadline - Date.now() - 120 * 1000));
    };
    const minutes = (ms) => {
      const s = Math.max(0, Math.round(ms / 1000));
      return s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s` : `${s} s`;
    };
    const keep = async () => {
      try {
        const response = await fetch(url, { method: "POST", credentials: "same-origin",
          headers: { "X-CSRFToken": body.dataset.csrf || "", "Accept": "application/json" } });
        if (!response.ok) throw new Error(String(response.status));
        const data = await response.json();
        if (!data.authenticated) throw new Error("expired");
        deadline = Date.now() + data.idle_seconds * 1000;
        hide();
        schedule();
      } catch (e) {
        if (box) box.querySelector("p").textContent = "La session a expiré. Vos saisies restent dans ce navigateur : reconnectez-vous pour les retrouver.";
      }
    };
    function show() {
      if (box) return;
      box = document.createElement("div");
      box.className = "idle-warning";
      box.setAttribute("role", "alertdialog");
      box.setAttribute("aria-labelledby", "idle-warning-text");
      box.innerHTML = '<p id="idle-warning-text"></p>';
      const text = box.querySelector("p");
      const update = () => {
        const left = deadline - Date.now();
        text.textContent = left > 0
          ? `Sans activité, votre session se fermera dans ${minutes(left)}. Ce que vous avez saisi reste gardé dans ce navigateur.`
          : "La session a expiré. Vos saisies restent dans ce navigateur : reconnectez-vous pour les retrouver.";
      };
      update();
      tick = setInterval(update, 1000);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button primary";
      button.textContent = "Rester connecté";
      button.addEventListener("click", keep);
      box.appendChild(button);
      document.body.appendChild(box);
      button.focus();
    }
    schedule();
  };

  document.addEventListener("DOMContentLoaded", () => {
    setupSections();
    setupDrafts();
    setupErrorSummary();
    setupIdleWarning();
  });
})();

// The web import: say that a large file is being sent and checked (the check runs before the page answers).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-import-form]").forEach((form) => form.addEventListener("submit", () => {
    const input = form.querySelector("input[type=file]");
    const status = form.querySelector("[data-import-progress]");
    const button = form.querySelector("button[type=submit]");
    if (!input || !input.files.length || !status) return;
    const size = input.files[0].size;
    status.textContent = `Envoi et vérification de « ${input.files[0].name} » (${Math.max(1, Math.round(size / 1024))} Ko) en cours… `
      + "Un gros fichier peut prendre une minute : gardez cette page ouverte.";
    if (button) button.disabled = true;
  }));
});

// Regions that scroll (wide tables on a phone, the text read in a pièce) must be reachable with the
// keyboard: focusable, and named after their caption or heading (axe: scrollable-region-focusable).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".table-wrap, .ocr-text, .exhibit-text, .dash-chart").forEach((region) => {
    if (!region.hasAttribute("tabindex")) region.setAttribute("tabindex", "0");
    // A <figure> keeps its own role (named by its figcaption); other boxes become named regions.
    if (!region.hasAttribute("role") && region.tagName !== "FIGURE") region.setAttribute("role", "region");
    if (!region.hasAttribute("aria-label") && !region.hasAttribute("aria-labelledby")) {
      const caption = region.querySelector("caption, figcaption");
      const section = region.closest("section, details, .card");
      const heading = section ? section.querySelector("h1, h2, h3, summary") : null;
      const name = (caption && caption.textContent.trim()) || (heading && heading.textContent.trim()) || "Contenu défilant";
      region.setAttribute("aria-label", name.slice(0, 120));
    }
  });
});
