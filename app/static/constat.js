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
