// The campaign editor on a phone (issue 19): the form's sticky bottom bar shows the audience count
// while the branch manager types, and a link down to the live preview. The live area (#campaign-live)
// is replaced by htmx after each change: the bar's count follows it. No inline script (CSP-friendly).
(() => {
  const follow = () => {
    const count = document.querySelector("#campaign-live [data-testid=audience-count]");
    document.querySelectorAll("[data-audience-mini]").forEach((mini) => {
      mini.textContent = count ? count.textContent : "—";
    });
  };
  document.addEventListener("htmx:afterSettle", follow);
})();
