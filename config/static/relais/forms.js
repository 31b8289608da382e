// Forms (docs/architecture.md, "Forms"). No inline script (CSP-friendly).
//
// 1. The error summary (config/templates/_form_errors.html) takes the focus when the page brings
//    one — the browser scrolls to it and a screen reader reads it — and so does one an htmx swap
//    brings after a submit (never while the person types: live previews keep the focus in place).
//    Following one of its links focuses the field and shows its label. Without a summary, an error
//    message at the top of the page (base.html, data-focus-on-load) takes the focus.
// 2. A form posted once is not posted again by a second click (double-click, impatience) for the
//    next 5 seconds: the page is on its way. Going back to the page (back/forward cache) makes the
//    form usable again at once.
(() => {
  const focusSummary = (root) => {
    const summary = root.matches && root.matches("[data-form-errors]") ? root : root.querySelector("[data-form-errors]");
    if (summary) summary.focus();
    return Boolean(summary);
  };
  // An action refused after a redirect (e.g. publishing a template) says why in an error message at
  // the top of the page (base.html): focused the same way when no form summary is there.
  const focusOnLoad = () => {
    if (focusSummary(document)) return;
    const message = document.querySelector("[data-focus-on-load]");
    if (message) message.focus();
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusOnLoad);
  } else {
    focusOnLoad();
  }
  document.addEventListener("htmx:afterSettle", (event) => {
    const config = event.detail && event.detail.requestConfig;
    if (config && config.triggeringEvent && config.triggeringEvent.type === "submit") focusSummary(event.target);
  });

  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-form-errors] a[href^='#']");
    if (!link) return;
    const field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    const context = field.closest("fieldset") || field.closest(".mb-3") || field;
    const details = field.closest("details");
    if (details) details.open = true;
    field.focus({ preventScroll: true });
    context.scrollIntoView({ block: "start" });
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (event.defaultPrevented || (form.getAttribute("method") || "get").toLowerCase() !== "post" || form.getAttribute("target")) return;
    if (form.dataset.submitted) {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "1";
    // Usable again after a while if the page is still there (the person chose to stay when the
    // browser asked about unsaved changes elsewhere, or the answer never came).
    window.setTimeout(() => delete form.dataset.submitted, 5000);
  });
  window.addEventListener("pageshow", () => {
    document.querySelectorAll("form[data-submitted]").forEach((form) => delete form.dataset.submitted);
  });
})();
