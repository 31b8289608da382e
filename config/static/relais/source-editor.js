// The template source editor (issue 19, defect 14): a plain textarea — what the browser submits is
// what was typed — with a gutter of line numbers; the lines the live check names are highlighted in
// the gutter and across the text, and "Go to line N" selects that line. The live check is the draft
// form's htmx preview: it swaps #draft-check (out of band), whose data-error-lines says
// {"field name": [line, …]}. No library, no inline script (CSP-friendly).
(() => {
  const editors = new Map();  // field name → {textarea, lines, marks, errors, count}

  const metrics = (textarea) => {
    const style = getComputedStyle(textarea);
    return { height: parseFloat(style.lineHeight) || 21, top: parseFloat(style.paddingTop) || 0 };
  };

  const draw = (editor) => {
    const { textarea, lines, marks, errors } = editor;
    const count = textarea.value.split("\n").length;
    const key = count + "|" + [...errors].join(",");
    if (key !== editor.drawn) {
      editor.drawn = key;
      const rows = [];
      for (let number = 1; number <= count; number += 1) {
        const row = document.createElement("div");
        row.dataset.line = number;
        row.textContent = number;
        if (errors.has(number)) row.className = "is-error";
        rows.push(row);
      }
      lines.replaceChildren(...rows);
      lines.parentElement.style.minWidth = (String(count).length + 2) + "ch";
      if (errors.size) textarea.setAttribute("aria-invalid", "true");
      else if (!textarea.classList.contains("is-invalid")) textarea.removeAttribute("aria-invalid");
    }
    const { height, top } = metrics(textarea);
    lines.style.transform = `translateY(${-textarea.scrollTop}px)`;
    marks.replaceChildren(...[...errors].filter((number) => number <= count).map((number) => {
      const band = document.createElement("div");
      band.dataset.line = number;
      band.style.top = (top + (number - 1) * height - textarea.scrollTop) + "px";
      band.style.height = height + "px";
      return band;
    }));
  };

  const setUp = (textarea) => {
    if (editors.has(textarea.name)) return;
    const frame = document.createElement("div");
    frame.className = "source-editor";
    const gutter = document.createElement("div");
    gutter.className = "source-gutter";
    gutter.setAttribute("aria-hidden", "true");
    const lines = document.createElement("div");
    gutter.append(lines);
    const area = document.createElement("div");
    area.className = "source-area";
    const marks = document.createElement("div");
    marks.className = "source-marks";
    marks.setAttribute("aria-hidden", "true");
    // Moving the textarea into its frame takes the focus away from it: someone who started typing
    // before this script ran (a slow page) keeps their caret and selection, and their next keys land.
    const focused = document.activeElement === textarea;
    const { selectionStart, selectionEnd, selectionDirection } = textarea;
    textarea.replaceWith(frame);
    area.append(textarea, marks);
    frame.append(gutter, area);
    if (focused) {
      textarea.focus({ preventScroll: true });
      textarea.setSelectionRange(selectionStart, selectionEnd, selectionDirection);
    }
    textarea.setAttribute("wrap", "off");  // one line of source, one row: the numbers stay true
    const editor = { textarea, lines, marks, errors: new Set(), drawn: "" };
    editors.set(textarea.name, editor);
    textarea.addEventListener("input", () => draw(editor));
    textarea.addEventListener("scroll", () => draw(editor));
    new ResizeObserver(() => draw(editor)).observe(textarea);
    draw(editor);
  };

  const readCheck = () => {
    const check = document.getElementById("draft-check");
    let found = {};
    try { found = JSON.parse((check && check.dataset.errorLines) || "{}"); } catch (error) { found = {}; }
    editors.forEach((editor, name) => {
      editor.errors = new Set((found[name] || []).map(Number));
      draw(editor);
    });
  };

  const goTo = (name, number) => {
    const editor = editors.get(name);
    if (!editor) return;
    const { textarea } = editor;
    const rows = textarea.value.split("\n");
    const start = rows.slice(0, number - 1).reduce((total, row) => total + row.length + 1, 0);
    textarea.focus();
    textarea.setSelectionRange(start, start + (rows[number - 1] || "").length);
    textarea.scrollTop = Math.max(0, (number - 1) * metrics(textarea).height - textarea.clientHeight / 3);
    draw(editor);
  };

  const start = () => {
    document.querySelectorAll("textarea[data-source-editor]").forEach(setUp);
    const check = document.getElementById("draft-check");
    if (check) new MutationObserver(readCheck).observe(check.parentElement, { childList: true });
    readCheck();
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-source-line]");
    if (button) goTo(button.dataset.sourceField, Number(button.dataset.sourceLine));
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
