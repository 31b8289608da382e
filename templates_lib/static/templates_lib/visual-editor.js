// The visual e-mail editor (issue 20, docs/visual-editor.md). No framework, no inline script.
// The page gives the block document, the slots, the asset library, the merge-field menu and every
// label (translated) in #editor-data; this script edits the document, asks the server for the live
// preview and the errors by block (nothing saved), saves it as MJML, and keeps a history of the
// document's states for undo and redo. Every check that matters is the server's.
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
  const TEXT_TYPES = ["short_text", "long_text", "rich_text"];
  const SLOT_TYPES_FOR = {
    text: ["rich_text", "long_text", "short_text", "price", "date", "choice"],
    heading: ["short_text", "choice", "date", "price"],
    footer: ["rich_text", "long_text", "short_text"],
    image: ["image"], button: ["url"],
  };
  const NEW_BLOCK = {
    heading: () => ({ text: L.new_heading, level: 2, color: "", align: "left" }),
    text: () => ({ html: `<p>${L.new_text}</p>`, color: "", font_size: "", align: "left" }),
    image: () => ({ src: "", alt: "", width: "", href: "" }),
    button: () => ({ label: L.new_button, href: "https://", background: "", color: "", radius: "" }),
    divider: () => ({ color: "", thickness: "1px" }),
    spacer: () => ({ height: "24px" }),
    social: () => ({ links: [{ network: "facebook", href: "{{ branch.facebook_url }}" }] }),
    footer: () => ({ html: L.new_footer }),
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

  // ---- the document -------------------------------------------------------------------------------
  const sections = () => state.document.sections;
  const locate = (id) => {
    for (const [s, section] of sections().entries()) {
      if (section.id === id) return { kind: "section", section, list: sections(), index: s, s };
      for (const [c, column] of (section.columns || []).entries()) {
        if (column.id === id) return { kind: "column", section, column, s, c };
        for (const [b, block] of column.blocks.entries()) {
          if (block.id === id) return { kind: "block", section, column, block, list: column.blocks, index: b, s, c, b };
        }
      }
    }
    return null;
  };
  const allIds = () => {
    const ids = new Set();
    sections().forEach((section) => {
      ids.add(section.id);
      (section.columns || []).forEach((column) => { ids.add(column.id); column.blocks.forEach((block) => ids.add(block.id)); });
    });
    return ids;
  };
  const newId = (prefix) => {
    const ids = allIds();
    let n = ids.size + 1;
    while (ids.has(`${prefix}${n}`)) n += 1;
    return `${prefix}${n}`;
  };
  const typeLabel = (type) => L[`type_${type}`] || type;
  const plain = (html) => { const div = document.createElement("div"); div.innerHTML = html || ""; return div.textContent; };
  const excerpt = (block) => {
    const text = block.type === "image" ? (block.alt || assetName(block.src)) : block.type === "button" ? block.label
      : block.type === "heading" ? block.text : ["text", "footer"].includes(block.type) ? plain(block.html) : "";
    const clean = humanise(text || "").replace(/\s+/g, " ").trim();
    return clean.length > 40 ? `${clean.slice(0, 40)}…` : clean;
  };
  const mergeLabels = Object.fromEntries(data.merge.flatMap((group) => group.fields.map((item) => [item.code, item.label])));
  // What a person reads in the outline: a slot's label and a merge field's name, not their codes.
  const humanise = (text) => text.replace(/\{\{\s*([a-z]+)\.([a-z0-9_]+)(?:\.([a-z]+))?\s*\}\}/g, (all, namespace, name, part) => {
    if (namespace === "slot") return `[${slotLabel(name)}${part ? ` · ${L[`part_${part}`] || part}` : ""}]`;
    return mergeLabels[`${namespace}.${name}`] ? `[${mergeLabels[`${namespace}.${name}`]}]` : (namespace === "system" ? "" : all);
  });
  const assetName = (src) => {
    const asset = data.assets.find((item) => item.src === src);
    if (asset) return asset.name;
    return (src || "").startsWith("slot:") ? slotLabel(src.slice(5)) : "";
  };
  const where = (id) => {
    const place = locate(id);
    if (!place) return id === "document" ? L.document : id;
    const section = t("section_n", { n: place.s + 1 });
    if (place.kind === "section") return section;
    const column = place.section.columns.length > 1 ? `, ${t("column_n", { n: place.c + 1 })}` : "";
    if (place.kind === "column") return section + column;
    if (!place.block) return section;
    return `${section}${column} · ${typeLabel(place.block.type)} ${place.b + 1}`;
  };

  const freshCopy = (item) => {
    const copy = JSON.parse(JSON.stringify(item));
    const ids = allIds();
    const next = (prefix) => { let n = ids.size + 1; while (ids.has(`${prefix}${n}`)) n += 1; ids.add(`${prefix}${n}`); return `${prefix}${n}`; };
    if (copy.columns) {
      copy.id = next("s");
      copy.columns.forEach((column) => { column.id = next("c"); column.blocks.forEach((block) => { block.id = next("b"); }); });
    } else {
      copy.id = next(copy.type === "source" && !locate(item.id)?.column ? "s" : "b");
    }
    return copy;
  };

  const act = (action, id) => {
    const place = locate(id);
    if (!place || !place.list) return;
    const { list, index } = place;
    const item = list[index];
    if (action === "up" || action === "down") {
      const to = action === "up" ? index - 1 : index + 1;
      if (to >= 0 && to < list.length) {
        list.splice(index, 1);
        list.splice(to, 0, item);
      } else if (place.kind === "block") {  // past the column's end: into the neighbouring column or section
        const columns = sections().flatMap((section) => section.columns || []);
        const ci = columns.indexOf(place.column) + (action === "up" ? -1 : 1);
        if (ci < 0 || ci >= columns.length) return;
        list.splice(index, 1);
        if (action === "up") columns[ci].blocks.push(item); else columns[ci].blocks.unshift(item);
      } else {
        return;
      }
      announce(t("moved", { what: where(id) }));
    } else if (action === "duplicate") {
      const copy = freshCopy(item);
      list.splice(index + 1, 0, copy);
      selected = copy.id;
      announce(t("duplicated", { what: where(copy.id) }));
    } else if (action === "delete") {
      list.splice(index, 1);
      forgetSlots(item);
      if (selected === id) selected = null;
      announce(L.deleted);
    }
    commit(null, { structure: true });
    const again = outline.querySelector(`[data-id="${id}"] > .ve-row [data-action="${action}"]`);
    if (again && !again.disabled) again.focus();
    else { const row = outline.querySelector(`[data-id="${selected || id}"] .ve-select`); if (row) row.focus(); }
  };

  const addBlock = (columnId, type) => {
    const place = locate(columnId);
    if (!place || !NEW_BLOCK[type]) return;
    const block = { id: newId("b"), type, locked: false, ...NEW_BLOCK[type]() };
    place.column.blocks.push(block);
    selected = block.id;
    commit(null, { structure: true });
    announce(t("added", { what: where(block.id) }));
    const first = panel.querySelector("input:not([disabled]),select,textarea,[contenteditable]");
    if (first) first.focus();
  };
  const addSection = (count) => {
    const section = { id: newId("s"), type: "section", locked: false, background: "", padding: "", columns: [] };
    sections().push(section);
    for (let i = 0; i < count; i += 1) section.columns.push({ id: newId("c"), blocks: [] });
    selected = section.id;
    commit(null, { structure: true });
    announce(t("added", { what: where(section.id) }));
  };
  const setColumns = (section, count) => {
    while (section.columns.length < count) section.columns.push({ id: newId("c"), blocks: [] });
    while (section.columns.length > count) {
      const gone = section.columns.pop();
      section.columns[section.columns.length - 1].blocks.push(...gone.blocks);
    }
  };

  // ---- slots --------------------------------------------------------------------------------------
  const SLOT_REF = /\{\{\s*slot\.([a-z][a-z0-9_]*)/g;
  const slotNamesIn = (block) => {
    const names = new Set();
    Object.entries(block).forEach(([key, value]) => {
      if (typeof value === "string") {
        for (const match of value.matchAll(SLOT_REF)) names.add(match[1]);
        if (key === "src" && value.startsWith("slot:")) names.add(value.slice(5));
      }
    });
    return [...names];
  };
  const slotOf = (name) => state.slots.find((slot) => slot.name === name);
  const slotLabel = (name) => (slotOf(name) || {}).label || name;
  const wholeSlot = (block) => {
    const one = /^\s*\{\{\s*slot\.([a-z][a-z0-9_]*)\s*\}\}\s*$/;
    const field = { text: "html", footer: "html", heading: "text", button: "href" }[block.type];
    if (block.type === "image") return (block.src || "").startsWith("slot:") ? block.src.slice(5) : null;
    const match = field && one.exec((block[field] || "").replace(/^<p>|<\/p>$/g, ""));
    return match ? match[1] : null;
  };
  const usedElsewhere = (name, except) => sections().some((section) => (section.columns || []).some((column) => column.blocks.some(
    (block) => block !== except && slotNamesIn(block).includes(name))));
  const slotName = (label) => {
    const base = (label || "slot").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "_").replace(/^[^a-z]+|_+$/g, "").slice(0, 30) || "slot";
    let name = base;
    let n = 2;
    while (slotOf(name)) { name = `${base}_${n}`; n += 1; }
    return name;
  };
  const makeSlot = (block) => {
    const types = SLOT_TYPES_FOR[block.type];
    const label = `${typeLabel(block.type)} ${state.slots.length + 1}`;
    const slot = { name: slotName(label), type: types[0], label, required: true, default: null, choices: [], help_text: "" };
    if (block.type === "image") { slot.default = (block.src || "").startsWith("asset:") ? block.src.slice(6) : null; block.src = `slot:${slot.name}`; }
    else if (block.type === "button") { slot.default = block.href && block.href !== "https://" ? block.href : null; block.href = `{{ slot.${slot.name} }}`; }
    else if (block.type === "heading") { slot.default = plain(block.text) || null; block.text = `{{ slot.${slot.name} }}`; }
    else { slot.default = block.html || null; block.html = `{{ slot.${slot.name} }}`; }
    if (TEXT_TYPES.includes(slot.type)) slot.max_length = slot.type === "short_text" ? 120 : slot.type === "long_text" ? 1000 : 2000;
    state.slots.push(slot);
    return slot;
  };
  // A slot no block, subject or preheader uses any more is no longer declared.
  const forgetSlots = (item) => {
    const blocks = item.columns ? item.columns.flatMap((column) => column.blocks) : [item];
    const names = new Set(blocks.flatMap(slotNamesIn));
    const elsewhere = `${state.subject} ${state.preheader}`;
    state.slots = state.slots.filter((slot) => !names.has(slot.name) || usedElsewhere(slot.name, null)
      || new RegExp(`\\{\\{\\s*slot\\.${slot.name}[\\s.}]`).test(elsewhere));
  };
  const unmakeSlot = (block, name) => {
    const slot = slotOf(name) || {};
    const value = typeof slot.default === "string" ? slot.default : "";
    if (block.type === "image") block.src = value ? `asset:${value}` : "";
    else if (block.type === "button") block.href = value || "https://";
    else if (block.type === "heading") block.text = value;
    else block.html = value;
    if (!usedElsewhere(name, null)) state.slots = state.slots.filter((item) => item.name !== name);
  };
  const renameSlot = (oldName, newName) => {
    const pattern = new RegExp(`(\\{\\{\\s*slot\\.)${oldName}(?=[\\s.}])`, "g");
    sections().forEach((section) => (section.columns || []).forEach((column) => column.blocks.forEach((block) => {
      Object.keys(block).forEach((key) => {
        if (typeof block[key] !== "string") return;
        block[key] = block[key].replace(pattern, `$1${newName}`);
        if (key === "src" && block[key] === `slot:${oldName}`) block[key] = `slot:${newName}`;
      });
    })));
  };

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

  // ---- outline ------------------------------------------------------------------------------------
  const errorList = (id) => (errors[id] && errors[id].length
    ? h("ul", { class: "ve-block-errors small text-danger mb-1", id: `ve-err-${id}` }, errors[id].map((message) => h("li", { text: message })))
    : null);
  const actions = (id, list, index, name) => h("span", { class: "ve-actions" },
    [["up", "↑", L.move_up, index === 0 && !name.block], ["down", "↓", L.move_down, index === list.length - 1 && !name.block],
      ["duplicate", "⊕", L.duplicate, false], ["delete", "✕", L.delete, false]].map(([action, symbol, label, off]) => h("button", {
      type: "button", class: "btn btn-sm btn-outline-secondary", "data-action": action, disabled: off,
      "aria-label": `${label} — ${name.text}`, title: label, text: symbol,
    })));

  const renderOutline = () => {
    const focusedId = document.activeElement && outline.contains(document.activeElement)
      ? [document.activeElement.closest("[data-id]")?.dataset.id, document.activeElement.dataset.action || "select"] : null;
    outline.replaceChildren(h("ol", { class: "ve-sections list-unstyled mb-2" }, sections().map((section, s) => {
      const name = t("section_n", { n: s + 1 });
      if (section.type === "source") {
        return h("li", { class: `ve-section ve-locked${selected === section.id ? " ve-selected" : ""}`, "data-id": section.id, draggable: "true" },
          h("div", { class: "ve-row" },
            h("button", { type: "button", class: "ve-select btn btn-link", "aria-pressed": selected === section.id ? "true" : "false" },
              h("span", { class: "ve-padlock", "aria-label": L.locked, role: "img", text: "🔒" }), `${name} · ${L.type_source}`),
            actions(section.id, sections(), s, { text: name })),
          errorList(section.id));
      }
      return h("li", { class: `ve-section${section.locked ? " ve-locked" : ""}${selected === section.id ? " ve-selected" : ""}`,
        "data-id": section.id, draggable: "true" },
      h("div", { class: "ve-row" },
        h("button", { type: "button", class: "ve-select btn btn-link", "aria-pressed": selected === section.id ? "true" : "false",
          "aria-describedby": errors[section.id] ? `ve-err-${section.id}` : null },
        section.locked ? h("span", { class: "ve-padlock", "aria-label": L.locked, role: "img", text: "🔒" }) : null,
        `${name} · ${t("columns_n", { n: section.columns.length })}`),
        actions(section.id, sections(), s, { text: name })),
      errorList(section.id),
      h("div", { class: `ve-columns ve-cols-${section.columns.length}` }, section.columns.map((column, c) => h("div", {
        class: "ve-column", "data-column": column.id },
      section.columns.length > 1 ? h("p", { class: "ve-column-title small text-body-secondary mb-1", text: t("column_n", { n: c + 1 }) }) : null,
      h("ol", { class: "ve-blocks list-unstyled mb-1" }, column.blocks.map((block, b) => {
        const slot = wholeSlot(block);
        return h("li", { class: `ve-block${block.locked ? " ve-locked" : ""}${selected === block.id ? " ve-selected" : ""}${errors[block.id] ? " ve-has-error" : ""}`,
          "data-id": block.id, draggable: "true" },
        h("div", { class: "ve-row" },
          h("button", { type: "button", class: "ve-select btn btn-link", "aria-pressed": selected === block.id ? "true" : "false",
            "aria-describedby": errors[block.id] ? `ve-err-${block.id}` : null },
          block.locked ? h("span", { class: "ve-padlock", role: "img", "aria-label": L.locked, text: "🔒" }) : null,
          h("strong", { text: typeLabel(block.type) }), " ",
          slot ? h("span", { class: "badge text-bg-info", text: t("slot_badge", { label: slotLabel(slot) }) }) : null,
          !slot || ["button", "image"].includes(block.type) ? h("span", { class: "ve-excerpt", text: ` ${excerpt(block)}` }) : null),
          actions(block.id, column.blocks, b, { text: where(block.id), block: true })),
        errorList(block.id));
      })),
      addMenu(column.id, t("add_to", { what: where(column.id) }))))));
    })));
    renderSummary();
    if (focusedId && focusedId[0]) {
      const target = outline.querySelector(`[data-id="${focusedId[0]}"] > .ve-row ${focusedId[1] === "select" ? ".ve-select" : `[data-action="${focusedId[1]}"]`}`);
      if (target && !target.disabled) target.focus();
    }
  };
  const addMenu = (columnId, label) => {
    const id = fieldId();
    const select = h("select", { class: "form-select form-select-sm", id },
      h("option", { value: "", text: L.choose_block }), Object.keys(NEW_BLOCK).map((type) => h("option", { value: type, text: typeLabel(type) })));
    return h("div", { class: "ve-add d-flex gap-1 mb-2" },
      h("label", { for: id, class: "visually-hidden", text: label }), select,
      h("button", { type: "button", class: "btn btn-sm btn-outline-primary", "data-add": columnId, text: L.add, "aria-label": label }));
  };

  outline.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.add) {
      const select = button.parentElement.querySelector("select");
      if (select.value) addBlock(button.dataset.add, select.value);
      else select.focus();
      return;
    }
    const id = button.closest("[data-id]")?.dataset.id;
    if (!id) return;
    if (button.dataset.action) act(button.dataset.action, id);
    else if (button.classList.contains("ve-select")) select(id);
  });

  const select = (id, { focusPanel = false } = {}) => {
    selected = id;
    renderOutline();
    renderPanel();
    const row = outline.querySelector(`[data-id="${id}"] .ve-select`);
    if (focusPanel) { const heading = panel.querySelector("h2"); if (heading) heading.focus(); } else if (row) row.focus();
  };

  // Drag and drop: a block onto a block (before it) or a column; a section onto a section.
  let dragged = null;
  outline.addEventListener("dragstart", (event) => {
    const item = event.target.closest("[data-id][draggable]");
    if (!item) return;
    dragged = item.dataset.id;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged);
    event.stopPropagation();
  });
  const dropTarget = (event) => {
    const place = dragged && locate(dragged);
    if (!place) return null;
    if (place.kind === "section") return event.target.closest(".ve-section");
    return event.target.closest(".ve-block") || event.target.closest(".ve-column");
  };
  outline.addEventListener("dragover", (event) => {
    const target = dropTarget(event);
    if (!target || target.dataset.id === dragged) return;
    event.preventDefault();
    outline.querySelectorAll(".ve-drop").forEach((node) => node.classList.remove("ve-drop"));
    target.classList.add("ve-drop");
  });
  outline.addEventListener("dragend", () => { dragged = null; outline.querySelectorAll(".ve-drop").forEach((node) => node.classList.remove("ve-drop")); });
  outline.addEventListener("drop", (event) => {
    const target = dropTarget(event);
    const place = dragged && locate(dragged);
    if (!target || !place || target.dataset.id === dragged) return;
    event.preventDefault();
    const item = place.list.splice(place.index, 1)[0];
    if (target.dataset.column) {
      locate(target.dataset.column).column.blocks.push(item);
    } else {
      const there = locate(target.dataset.id);
      there.list.splice(there.index, 0, item);
    }
    const id = dragged;
    dragged = null;
    commit(null, { structure: true });
    announce(t("moved", { what: where(id) }));
  });

  // ---- the error summary --------------------------------------------------------------------------
  const renderSummary = () => {
    const items = [];
    Object.entries(fieldErrors).forEach(([field, messages]) => messages.forEach((message) => items.push(h("li", {},
      `${L[`field_${field}`] || L.document}: ${message}`))));
    Object.entries(errors).forEach(([id, messages]) => messages.forEach((message) => items.push(h("li", {},
      id === "document" || !locate(id) ? `${L.document}: ${message}`
        : h("a", { href: `#ve-err-${id}`, "data-select": id, text: `${where(id)}: ${message}` })))));
    summary.replaceChildren(...(items.length ? [h("p", { class: "fw-semibold mb-1", text: t("errors_n", { n: items.length }) }), h("ul", { class: "mb-0" }, items)] : []));
    summary.classList.toggle("d-none", !items.length);
  };
  summary.addEventListener("click", (event) => {
    const link = event.target.closest("[data-select]");
    if (!link) return;
    event.preventDefault();
    select(link.dataset.select, { focusPanel: true });
  });

  // ---- properties panel ---------------------------------------------------------------------------
  let lastText = null;  // the text field the merge-field menu writes into
  const field = (label, input, help) => {
    const id = input.id || fieldId();
    input.id = id;
    if (help) input.setAttribute("aria-describedby", `${id}-help`);
    return h("div", { class: "mb-2" }, h("label", { for: id, class: "form-label small mb-0", text: label }), input,
      help ? h("div", { class: "form-text", id: `${id}-help`, text: help }) : null);
  };
  const bind = (object, key, { type = "text", key: historyKey, parse = (value) => value, attrs = {}, disabled = false, after } = {}) => {
    const input = h("input", { type, class: type === "color" ? "form-control form-control-color" : "form-control form-control-sm",
      value: object[key] ?? "", disabled, ...attrs });
    input.addEventListener("input", () => { object[key] = parse(input.value); if (after) after(); commit(historyKey || `${key}:${uid}`); });
    input.addEventListener("focus", () => { lastText = type === "text" ? input : null; });
    return input;
  };
  const colour = (label, object, key, fallback, disabled) => {
    const input = bind(object, key, { type: "color", disabled });
    input.value = /^#[0-9a-f]{6}$/i.test(object[key] || "") ? object[key] : fallback;
    const reset = h("button", { type: "button", class: "btn btn-sm btn-link", disabled, text: L.default_colour,
      onclick: () => { object[key] = ""; input.value = fallback; commit(); } });
    const id = fieldId();
    input.id = id;
    return h("div", { class: "mb-2" }, h("label", { for: id, class: "form-label small mb-0 d-block", text: label }),
      h("div", { class: "d-flex align-items-center gap-2" }, input, h("span", { class: "small", text: object[key] || L.inherited }), reset));
  };
  const choose = (label, object, key, options, { disabled = false, parse = (value) => value, after } = {}) => {
    const input = h("select", { class: "form-select form-select-sm", disabled },
      options.map(([value, text]) => h("option", { value, text, selected: String(object[key] ?? "") === String(value) })));
    input.addEventListener("change", () => { object[key] = parse(input.value); commit(null, { structure: Boolean(after) }); if (after) after(); });
    return field(label, input);
  };
  const richText = (label, object, key, disabled) => {
    const id = fieldId();
    const editable = h("div", { class: "ve-rich form-control form-control-sm", id, role: "textbox", "aria-multiline": "true",
      "aria-labelledby": `${id}-label`, contenteditable: disabled ? "false" : "true" });
    editable.innerHTML = object[key] || "";
    const sync = () => { object[key] = editable.innerHTML; commit(`${key}:${id}`); };
    editable.addEventListener("input", sync);
    editable.addEventListener("focus", () => { lastText = editable; });
    editable.addEventListener("paste", (event) => {
      event.preventDefault();
      document.execCommand("insertText", false, (event.clipboardData || window.clipboardData).getData("text/plain"));
    });
    const command = (name, value) => () => { editable.focus(); document.execCommand(name, false, value); sync(); };
    const link = () => {
      const href = window.prompt(L.link_prompt, "https://");
      if (href) command("createLink", href)();
    };
    const tools = disabled ? null : h("div", { class: "btn-group btn-group-sm mb-1", role: "group", "aria-label": t("format_of", { what: label }) },
      h("button", { type: "button", class: "btn btn-outline-secondary", onclick: command("bold"), "aria-label": L.bold, title: L.bold }, h("b", { text: "B" })),
      h("button", { type: "button", class: "btn btn-outline-secondary", onclick: command("italic"), "aria-label": L.italic, title: L.italic }, h("i", { text: "I" })),
      h("button", { type: "button", class: "btn btn-outline-secondary", onclick: link, text: L.link }),
      h("button", { type: "button", class: "btn btn-outline-secondary", onclick: command("unlink"), text: L.unlink }));
    return h("div", { class: "mb-2" }, h("span", { class: "form-label small mb-0 d-block", id: `${id}-label`, text: label }), tools, editable);
  };
  const insertAtCaret = (text) => {
    const target = lastText && lastText.isConnected ? lastText : null;
    if (!target) { announce(L.pick_text_first); return false; }
    target.focus();
    if (target.isContentEditable) {
      document.execCommand("insertText", false, text);
    } else {
      const start = target.selectionStart ?? target.value.length;
      target.setRangeText(text, start, target.selectionEnd ?? start, "end");
      target.dispatchEvent(new Event("input", { bubbles: true }));
    }
    return true;
  };
  const mergeMenu = (disabled) => {
    const id = fieldId();
    const menu = h("select", { class: "form-select form-select-sm", id, disabled },
      h("option", { value: "", text: L.merge_choose }),
      data.merge.map((group) => h("optgroup", { label: group.label }, group.fields.map((item) => h("option", { value: item.code, text: item.label })))));
    menu.addEventListener("mousedown", () => { menu.dataset.keep = "1"; });
    menu.addEventListener("change", () => {
      const code = menu.value;
      menu.value = "";
      if (code) insertAtCaret(`{{ ${code} }}`);
    });
    return h("div", { class: "mb-2" }, h("label", { for: id, class: "form-label small mb-0", text: L.merge_insert }), menu,
      h("div", { class: "form-text", text: L.merge_help }));
  };

  const slotForm = (slot, block) => {
    const types = block ? (SLOT_TYPES_FOR[block.type] || ["short_text"]) : data.slot_types.map((item) => item.code);
    const rows = [
      choose(L.slot_type, slot, "type", data.slot_types.filter((item) => types.includes(item.code)).map((item) => [item.code, item.label]),
        { after: () => { slot.default = null; commit(null, { structure: true }); } }),
      field(L.slot_label, bind(slot, "label", { key: `slot-label:${slot.name}` })),
      field(L.slot_name, (() => {
        const input = h("input", { type: "text", class: "form-control form-control-sm", value: slot.name, pattern: "[a-z][a-z0-9_]{0,39}" });
        input.addEventListener("change", () => {
          const name = input.value.trim();
          if (!/^[a-z][a-z0-9_]{0,39}$/.test(name) || slotOf(name)) { input.value = slot.name; announce(L.slot_name_invalid); return; }
          renameSlot(slot.name, name);
          slot.name = name;
          commit(null, { structure: true });
        });
        return input;
      })(), L.slot_name_help),
      h("div", { class: "form-check mb-2" }, (() => {
        const box = h("input", { type: "checkbox", class: "form-check-input", id: fieldId(), checked: slot.required !== false });
        box.addEventListener("change", () => { slot.required = box.checked; commit(); });
        return box;
      })(), h("label", { class: "form-check-label small", text: L.slot_required })),
    ];
    rows[3].querySelector("label").setAttribute("for", rows[3].querySelector("input").id);
    if (TEXT_TYPES.includes(slot.type)) rows.push(field(L.slot_max_length, bind(slot, "max_length", { type: "number", attrs: { min: 1, max: 4000 }, parse: (value) => (value ? Number(value) : null) })));
    if (slot.type === "choice") {
      const area = h("textarea", { class: "form-control form-control-sm", rows: 3, value: (slot.choices || []).join("\n") });
      area.addEventListener("input", () => { slot.choices = area.value.split("\n").map((item) => item.trim()).filter(Boolean); commit(`choices:${slot.name}`); });
      rows.push(field(L.slot_choices, area, L.slot_choices_help));
    }
    if (slot.type === "image") {
      rows.push(field(L.slot_tag, bind(slot, "tag", { key: `tag:${slot.name}` }), L.slot_tag_help));
      rows.push(choose(L.slot_default, slot, "default", [["", L.no_default], ...data.assets.map((asset) => [asset.src.slice(6), asset.name])], { parse: (value) => value || null }));
    } else if (slot.type === "price") {
      const value = slot.default && typeof slot.default === "object" ? slot.default : { amount: "", currency: "EUR", conditions: "" };
      const store = () => { slot.default = value.amount || value.conditions ? value : null; };
      rows.push(field(L.price_amount, bind(value, "amount", { after: store, attrs: { inputmode: "decimal" }, key: `amount:${slot.name}` })));
      rows.push(choose(L.price_currency, value, "currency", [["EUR", "€"], ["CHF", "CHF"], ["GBP", "£"], ["USD", "$"]], { after: store }));
      rows.push(field(L.price_conditions, bind(value, "conditions", { after: store, key: `conditions:${slot.name}` })));
    } else if (slot.type === "choice") {
      rows.push(choose(L.slot_default, slot, "default", [["", L.no_default], ...(slot.choices || []).map((item) => [item, item])], { parse: (value) => value || null }));
    } else {
      const holder = { value: typeof slot.default === "string" ? slot.default : "" };
      rows.push(field(L.slot_default, bind(holder, "value", { type: slot.type === "date" ? "date" : "text", key: `default:${slot.name}`,
        after: () => { slot.default = holder.value || null; } })));
    }
    return h("fieldset", { class: "ve-slot border rounded p-2 mb-2" }, h("legend", { class: "fs-6 w-auto px-1 mb-1", text: t("slot_legend", { label: slot.label || slot.name }) }), rows);
  };

  const panelFor = (place) => {
    if (!place) {
      const settings = state.document.settings;
      const fonts = [...data.fonts];
      if (settings.font_family && !fonts.includes(settings.font_family)) fonts.unshift(settings.font_family);
      return [h("h2", { class: "h6", tabindex: "-1", text: L.document_settings }),
        field(L.field_subject, bind(state, "subject")), field(L.field_preheader, bind(state, "preheader"), L.preheader_help),
        mergeMenu(false),
        colour(L.background, settings, "background", "#ffffff"),
        colour(L.text_colour, settings, "text_color", "#222222"),
        field(L.width, bind(settings, "width", { type: "number", attrs: { min: 320, max: 800, step: 10 }, parse: Number })),
        choose(L.font, settings, "font_family", fonts.map((font) => [font, font.split(",")[0]]))];
    }
    const object = place.kind === "section" ? place.section : place.block;
    const locked = Boolean(object.locked);
    const lockBox = h("input", { type: "checkbox", class: "form-check-input", id: fieldId(), checked: locked });
    lockBox.addEventListener("change", () => { object.locked = lockBox.checked; commit(null, { structure: true }); announce(lockBox.checked ? L.now_locked : L.now_unlocked); });
    const rows = [h("h2", { class: "h6", tabindex: "-1", text: where(object.id) }),
      h("div", { class: "form-check form-switch mb-2" }, lockBox, h("label", { class: "form-check-label small", for: lockBox.id, text: L.lock_label }))];
    if (locked) rows.push(h("p", { class: "small text-body-secondary", text: L.locked_help }));
    if (place.kind === "section" && object.type === "source") {
      rows.splice(1);
      rows.push(h("p", { class: "small", text: L.source_help }), h("pre", { class: "ve-source small border rounded p-2", tabindex: "0", "aria-label": L.type_source, text: object.mjml }));
      return rows;
    }
    if (place.kind === "section") {
      rows.push(choose(L.columns, { n: object.columns.length }, "n", [[1, "1"], [2, "2"], [3, "3"]],
        { disabled: locked, parse: Number, after: () => {} }));
      rows[rows.length - 1].querySelector("select").addEventListener("change", (event) => { setColumns(object, Number(event.target.value)); commit(null, { structure: true }); });
      rows.push(colour(L.background, object, "background", "#ffffff", locked));
      rows.push(field(L.padding, bind(object, "padding", { disabled: locked }), L.padding_help));
      return rows;
    }
    const block = object;
    const slot = wholeSlot(block);
    const d = locked;
    if (block.type === "source") {
      rows.push(h("p", { class: "small", text: L.source_help }), h("pre", { class: "ve-source small border rounded p-2", tabindex: "0", "aria-label": L.type_source, text: block.mjml }));
      return rows;
    }
    if (slot) {
      rows.push(h("p", { class: "alert alert-info small py-1", text: t("is_slot", { label: slotLabel(slot) }) }));
    }
    if (block.type === "heading") {
      if (!slot) rows.push(field(L.heading_text, bind(block, "text", { disabled: d })));
      rows.push(choose(L.level, block, "level", [[1, "1"], [2, "2"], [3, "3"]], { disabled: d, parse: Number }));
    }
    if (["text", "footer"].includes(block.type) && !slot) rows.push(richText(block.type === "footer" ? L.footer_text : L.text, block, "html", d));
    if (block.type === "footer") rows.push(h("p", { class: "form-text", text: L.footer_help }));
    if (["heading", "text"].includes(block.type)) {
      rows.push(colour(L.text_colour, block, "color", state.document.settings.text_color || "#222222", d));
      rows.push(choose(L.align, block, "align", [["left", L.left], ["center", L.center], ["right", L.right], ...(block.type === "text" ? [["justify", L.justify]] : [])], { disabled: d }));
      if (block.type !== "heading") rows.push(field(L.font_size, bind(block, "font_size", { disabled: d }), L.size_help));
    }
    if (block.type === "image") {
      if (!slot) {
        rows.push(choose(L.image, block, "src", [["", L.choose_image], ...data.assets.map((asset) => [asset.src, asset.name])], { disabled: d, after: () => {} }));
        const asset = data.assets.find((item) => item.src === block.src);
        if (asset) rows.push(h("img", { src: asset.url, alt: "", class: "ve-thumb border rounded mb-2" }));
        if (!data.assets.length) rows.push(h("p", { class: "small text-warning-emphasis", text: L.no_assets }));
      }
      rows.push(field(L.alt, bind(block, "alt", { disabled: d, attrs: { required: !slot } }), slot ? L.alt_slot_help : L.alt_help));
      rows.push(field(L.image_width, bind(block, "width", { disabled: d }), L.size_help));
      rows.push(field(L.image_link, bind(block, "href", { disabled: d })));
    }
    if (block.type === "button") {
      rows.push(field(L.button_label, bind(block, "label", { disabled: d })));
      if (!slot) rows.push(field(L.button_link, bind(block, "href", { disabled: d, attrs: { inputmode: "url" } }), L.button_link_help));
      rows.push(colour(L.button_background, block, "background", "#1a5fb4", d));
      rows.push(colour(L.button_colour, block, "color", "#ffffff", d));
      rows.push(field(L.radius, bind(block, "radius", { disabled: d }), L.size_help));
    }
    if (block.type === "divider") {
      rows.push(colour(L.line_colour, block, "color", "#cccccc", d));
      rows.push(field(L.thickness, bind(block, "thickness", { disabled: d }), L.size_help));
    }
    if (block.type === "spacer") rows.push(field(L.height, bind(block, "height", { disabled: d }), L.size_help));
    if (block.type === "social") {
      block.links = block.links || [];
      block.links.forEach((link, index) => {
        const remove = h("button", { type: "button", class: "btn btn-sm btn-outline-danger", disabled: d, text: L.remove_link,
          onclick: () => { block.links.splice(index, 1); commit(null, { structure: true }); } });
        rows.push(h("fieldset", { class: "border rounded p-2 mb-2" }, h("legend", { class: "fs-6 w-auto px-1 mb-1", text: t("link_n", { n: index + 1 }) }),
          choose(L.network, link, "network", ["facebook", "instagram", "x", "linkedin", "youtube", "web"].map((name) => [name, L[`network_${name}`] || name]), { disabled: d }),
          field(L.address, bind(link, "href", { disabled: d })), remove));
      });
      rows.push(h("button", { type: "button", class: "btn btn-sm btn-outline-primary mb-2", disabled: d, text: L.add_link,
        onclick: () => { block.links.push({ network: "web", href: "{{ branch.website_url }}" }); commit(null, { structure: true }); } }));
    }
    if (["text", "heading", "footer", "button"].includes(block.type)) rows.push(mergeMenu(d));
    if (SLOT_TYPES_FOR[block.type] && !d) {
      const buttons = h("div", { class: "d-flex flex-wrap gap-2 mb-2" });
      if (slot) {
        buttons.append(h("button", { type: "button", class: "btn btn-sm btn-outline-secondary", text: L.unmake_slot,
          onclick: () => { unmakeSlot(block, slot); commit(null, { structure: true }); announce(L.slot_removed); } }));
      } else if (["text", "heading", "image", "button"].includes(block.type)) {
        buttons.append(h("button", { type: "button", class: "btn btn-sm btn-outline-primary", text: L.make_slot,
          onclick: () => { const made = makeSlot(block); commit(null, { structure: true }); announce(t("slot_made", { label: made.label })); focusSlot(made.name); } }));
      }
      if (!slot && ["text", "heading", "footer"].includes(block.type)) {
        buttons.append(h("button", { type: "button", class: "btn btn-sm btn-outline-primary", text: L.slot_inside,
          onclick: () => {
            const label = `${typeLabel(block.type)} ${state.slots.length + 1}`;
            const made = { name: slotName(label), type: "short_text", label, required: true, default: null, max_length: 80, choices: [], help_text: "" };
            if (!insertAtCaret(`{{ slot.${made.name} }}`)) return;
            state.slots.push(made);
            commit(null, { structure: true });
            focusSlot(made.name);
          } }));
      }
      rows.push(buttons);
    }
    const names = slotNamesIn(block);
    if (names.length) rows.push(h("h3", { class: "h6 mt-2", text: L.slots_here }));
    names.forEach((name) => {
      const found = slotOf(name);
      rows.push(found ? slotForm(found, block) : h("p", { class: "small text-danger", text: t("slot_undeclared", { name }) }));
    });
    return rows;
  };
  const focusSlot = (name) => {
    const legend = [...panel.querySelectorAll(".ve-slot")].find((node) => node.querySelector("input[pattern]")?.value === name);
    const input = legend && legend.querySelector("input[type=text]");
    if (input) input.focus();
  };
  const renderPanel = () => {
    const place = selected ? locate(selected) : null;
    if (selected && !place) selected = null;
    const back = place ? h("button", { type: "button", class: "btn btn-sm btn-link px-0 mb-1", text: L.back_to_document, onclick: () => { selected = null; renderOutline(); renderPanel(); panel.querySelector("h2").focus(); } }) : null;
    const controls = () => [...panel.querySelectorAll("input,select,textarea,button,[contenteditable=true]")];
    const focused = panel.contains(document.activeElement) ? controls().indexOf(document.activeElement) : -1;
    panel.replaceChildren(...[back, ...panelFor(place)].filter(Boolean));
    if (focused >= 0 && controls()[focused]) controls()[focused].focus();
    const blockErrors = place && errors[selected];
    if (blockErrors) panel.prepend(h("div", { class: "alert alert-danger small py-1", role: "alert" }, h("ul", { class: "mb-0" }, blockErrors.map((message) => h("li", { text: message })))));
  };

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
