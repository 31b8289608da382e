// The visual e-mail editor (issue 20, docs/visual-editor.md). No framework, no inline script.
// The page gives the block document, the slots, the asset library, the merge-field menu and every
// label (translated) in #editor-data; this script edits the document, asks the server for the live
// preview and the errors by block (nothing saved), saves it as MJML, and keeps a history of the
// document's states for undo and redo. Every check that matters is the server's.
// The other parts are loaded before it (deferred, in order) and each is a function of the shared
// context: visual-editor-document.js (the model and slots), visual-editor-richtext.js (text fields,
// merge-field chips, the link dialog), visual-editor-panel.js (properties), visual-editor-outline.js.
(() => {
  "use strict";
  const root = document.getElementById("visual-editor");
  if (!root) return;
  const data = JSON.parse(document.getElementById("editor-data").textContent);
  const L = data.labels;
  const t = (key, vars = {}) => Object.entries(vars).reduce((text, [name, value]) => text.replace(`%(${name})s`, value), L[key] || key);
  const $ = (selector, scope = root) => scope.querySelector(selector);
  const outline = $("#ve-outline");
  const panel = $("#ve-properties");
  const summary = $("#ve-errors");
  const announcer = $("#ve-announce");
  let frame = $("#ve-preview-frame");
  // A new sandboxed frame for each preview (its srcdoc set before it enters the page).
  const showPreview = (html) => {
    const next = frame.cloneNode(false);
    next.setAttribute("srcdoc", html);
    frame.replaceWith(next);
    frame = next;
  };
  // ---- state and history ------------------------------------------------------------------------
  let state = { document: data.document, slots: data.slots || [], subject: data.subject || "", preheader: data.preheader || "" };
  const history = [JSON.stringify(state)];
  let at = 0;
  let savedSnapshot = history[0];
  let lastKey = null;
  let lastTime = 0;
  let selected = null;
  let errors = {};
  let fieldErrors = {};
  let leaving = false;

  const snapshot = () => JSON.stringify(state);
  const dirty = () => snapshot() !== savedSnapshot;
  const announce = (text) => { announcer.textContent = ""; window.setTimeout(() => { announcer.textContent = text; }, 30); };

  // Record the state after a change; typing in one field within a second is one step of history.
  const commit = (key = null, { structure = false } = {}) => {
    const now = Date.now();
    const current = snapshot();
    if (key && key === lastKey && now - lastTime < 1000 && at === history.length - 1) {
      history[at] = current;
    } else if (current !== history[at]) {
      history.splice(at + 1);
      history.push(current);
      at = history.length - 1;
      if (history.length > 200) { history.shift(); at -= 1; }
    }
    lastKey = key;
    lastTime = now;
    renderOutline();
    if (structure) renderPanel();
    renderToolbar();
    schedulePreview();
  };

  const restore = (index, message) => {
    if (index < 0 || index >= history.length) return;
    at = index;
    state = JSON.parse(history[at]);
    lastKey = null;
    if (selected && !locate(selected)) selected = null;
    renderAll();
    schedulePreview();
    announce(message);
  };
  const undo = () => restore(at - 1, L.undone);
  const redo = () => restore(at + 1, L.redone);

  // ---- DOM helpers --------------------------------------------------------------------------------
  const h = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    Object.entries(attrs).forEach(([name, value]) => {
      if (value === null || value === undefined || value === false) return;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name === "value") node.value = value;
      else if (name === "checked") node.checked = Boolean(value);
      else node.setAttribute(name, value === true ? "" : value);
    });
    children.flat().forEach((child) => { if (child !== null && child !== undefined && child !== false) node.append(child); });
    return node;
  };
  let uid = 0;
  const fieldId = () => { uid += 1; return `ve-field-${uid}`; };

  // ---- the parts, sharing one context -------------------------------------------------------------
  const ctx = { root, data, L, t, h, fieldId, outline, panel, summary, commit, announce, lastText: null };
  Object.defineProperties(ctx, {
    state: { get: () => state },
    selected: { get: () => selected, set: (value) => { selected = value; } },
    errors: { get: () => errors },
    fieldErrors: { get: () => fieldErrors },
  });
  ctx.fn = (name) => (...args) => ctx[name](...args);  // a part's call into another part, found when called
  const parts = window.RelaisVisualEditor || {};
  ["document", "richtext", "panel", "outline"].forEach((name) => Object.assign(ctx, parts[name](ctx)));
  const [renderOutline, renderPanel, locate, addSection] = ["renderOutline", "renderPanel", "locate", "addSection"].map(ctx.fn);

  // ---- toolbar, preview, save ---------------------------------------------------------------------
  const undoButton = $("#ve-undo");
  const redoButton = $("#ve-redo");
  const statusLine = $("#ve-status");
  const renderToolbar = () => {
    undoButton.disabled = at === 0;
    redoButton.disabled = at === history.length - 1;
    statusLine.textContent = dirty() ? L.unsaved : L.all_saved;
  };
  undoButton.addEventListener("click", undo);
  redoButton.addEventListener("click", redo);
  document.addEventListener("keydown", (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
    const key = event.key.toLowerCase();
    if (key !== "z" && key !== "y") return;
    const target = event.target;
    if (target.isContentEditable || ["INPUT", "TEXTAREA"].includes(target.tagName)) return;  // the field's own undo first
    event.preventDefault();
    if (key === "y" || event.shiftKey) redo(); else undo();
  });

  const post = (url, body) => fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": root.querySelector("[name=csrfmiddlewaretoken]").value, Accept: "application/json" },
    body,
  });
  let previewTimer = null;
  let previewSeq = 0;
  const previewState = $("#ve-preview-state");
  const schedulePreview = () => {
    window.clearTimeout(previewTimer);
    previewState.textContent = L.preview_updating;
    previewTimer = window.setTimeout(refreshPreview, 600);
  };
  const showErrors = (byBlock, byField) => {
    errors = byBlock || {};
    fieldErrors = byField || {};
    renderOutline();
    if (selected) {
      const existing = panel.querySelector(":scope > .alert-danger");
      if (existing) existing.remove();
      if (errors[selected]) panel.prepend(h("div", { class: "alert alert-danger small py-1", role: "alert" }, h("ul", { class: "mb-0" }, errors[selected].map((message) => h("li", { text: message })))));
    }
  };
  const refreshPreview = async () => {
    previewSeq += 1;
    const mine = previewSeq;
    previewState.textContent = L.preview_updating;
    try {
      const response = await post(root.dataset.previewUrl, snapshot());
      const answer = await response.json();
      if (mine !== previewSeq) return;
      if (answer.html) showPreview(answer.html);
      showErrors(answer.errors, answer.fields);
      previewState.textContent = answer.html ? (answer.ok ? L.preview_ready : L.preview_with_errors) : (answer.message || L.preview_kept);
    } catch (error) {
      if (mine === previewSeq) previewState.textContent = L.preview_failed;
    }
  };
  root.querySelectorAll("[data-ve-width]").forEach((button) => button.addEventListener("click", () => {
    root.querySelectorAll("[data-ve-width]").forEach((other) => {
      other.classList.toggle("active", other === button);
      other.setAttribute("aria-pressed", other === button ? "true" : "false");
    });
    frame.style.width = `${button.dataset.veWidth}px`;
  }));

  const save = async () => {
    const body = snapshot();
    statusLine.textContent = L.saving;
    let response;
    try {
      response = await post(root.dataset.saveUrl, body);
    } catch (error) {
      statusLine.textContent = L.save_failed;
      return false;
    }
    const answer = await response.json().catch(() => ({ message: L.save_failed }));
    if (response.ok && answer.ok) {
      savedSnapshot = body;
      showErrors({}, {});
      renderToolbar();
      statusLine.textContent = answer.message;
      announce(answer.message);
      return true;
    }
    showErrors(answer.errors, answer.fields);
    statusLine.textContent = answer.message || L.save_failed;
    summary.classList.remove("d-none");
    if (!summary.firstChild) summary.append(h("p", { class: "mb-0", text: answer.message || L.save_failed }));
    summary.focus();
    return false;
  };
  $("#ve-save").addEventListener("click", save);
  $("#ve-publish").addEventListener("click", async () => {
    if (!window.confirm(L.publish_confirm)) return;
    if (!(await save())) return;
    leaving = true;
    document.getElementById("ve-publish-form").submit();
  });

  window.addEventListener("beforeunload", (event) => {
    if (leaving || !dirty()) return;
    event.preventDefault();
    event.returnValue = "";
  });

  const renderAll = () => { renderOutline(); renderPanel(); renderToolbar(); };
  $("#ve-add-section").addEventListener("click", (event) => {
    const button = event.target.closest("[data-columns]");
    if (button) addSection(Number(button.dataset.columns));
  });
  renderAll();
  refreshPreview();
})();