// E-mail preview tabs: desktop or mobile width, or the text version. No inline script (CSP-friendly).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-preview-width],[data-preview-text]");
  if (!button) return;
  const preview = button.closest("#preview");
  const frame = preview.querySelector("iframe");
  const text = preview.querySelector("pre");
  preview.querySelectorAll(".nav-link").forEach((link) => {
    link.classList.toggle("active", link === button);
    link.setAttribute("aria-pressed", link === button ? "true" : "false");
  });
  if (button.dataset.previewText !== undefined) {
    frame.classList.add("d-none"); text.classList.remove("d-none");
  } else {
    frame.classList.remove("d-none"); text.classList.add("d-none");
    frame.style.maxWidth = button.dataset.previewWidth + "px";
  }
});

// Buttons that need a confirmation carry data-confirm="question".
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});
