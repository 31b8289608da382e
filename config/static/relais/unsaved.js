// Unsaved changes (issue 19): leaving a page whose form marked data-unsaved holds something typed and
// not saved asks first (the browser's own "Leave the page?" question). Submitting that form is not
// leaving it: its values go to the server. data-unsaved-dirty marks a form the server sent back
// with values it did not save (a refused submit): it is unsaved from the start.
// No inline script (CSP-friendly); loaded by the pages that need it.
(() => {
  const snapshot = (form) => new URLSearchParams(new FormData(form)).toString();
  const initial = new Map();
  const submitted = new Set();

  const remember = () => {
    document.querySelectorAll("form[data-unsaved]").forEach((form) => {
      if (!initial.has(form)) initial.set(form, form.hasAttribute("data-unsaved-dirty") ? null : snapshot(form));
    });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", remember);
  else remember();

  const unsaved = (form) => form.isConnected && !submitted.has(form)
    && (initial.get(form) === null || initial.get(form) !== snapshot(form));

  // The form's own submit (its Save button, or a button elsewhere with form="…"): not leaving.
  document.addEventListener("submit", (event) => {
    if (!event.defaultPrevented && initial.has(event.target)) submitted.add(event.target);
  });
  // Back on the page from the browser's cache after a submit: watch again.
  window.addEventListener("pageshow", (event) => { if (event.persisted) submitted.clear(); });

  window.addEventListener("beforeunload", (event) => {
    if (![...initial.keys()].some(unsaved)) return;
    event.preventDefault();
    event.returnValue = "";  // what older browsers need to ask
  });
})();
