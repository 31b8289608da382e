// The visual e-mail editor's outline: sections, columns and blocks with their actions, drag and drop,
// and the error summary. Loaded before visual-editor.js, which calls it.
(() => {
  "use strict";
  const parts = window.RelaisVisualEditor = window.RelaisVisualEditor || {};
  parts.outline = (ctx) => {
    const { L, t, data, h, fieldId, outline, panel, summary, NEW_BLOCK } = ctx;
    const [commit, announce, renderPanel, locate, sections, where, typeLabel, wholeSlot, slotLabel, excerpt, act, addBlock] = ["commit", "announce", "renderPanel", "locate", "sections", "where", "typeLabel", "wholeSlot", "slotLabel", "excerpt", "act", "addBlock"].map(ctx.fn);
    // ---- outline ------------------------------------------------------------------------------------
    const errorList = (id) => (ctx.errors[id] && ctx.errors[id].length
      ? h("ul", { class: "ve-block-errors small text-danger mb-1", id: `ve-err-${id}` }, ctx.errors[id].map((message) => h("li", { text: message })))
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
          return h("li", { class: `ve-section ve-locked${ctx.selected === section.id ? " ve-selected" : ""}`, "data-id": section.id, draggable: "true" },
            h("div", { class: "ve-row" },
              h("button", { type: "button", class: "ve-select btn btn-link", "aria-pressed": ctx.selected === section.id ? "true" : "false" },
                h("span", { class: "ve-padlock", "aria-label": L.locked, role: "img", text: "🔒" }), `${name} · ${L.type_source}`),
              actions(section.id, sections(), s, { text: name })),
            errorList(section.id));
        }
        return h("li", { class: `ve-section${section.locked ? " ve-locked" : ""}${ctx.selected === section.id ? " ve-selected" : ""}`,
          "data-id": section.id, draggable: "true" },
        h("div", { class: "ve-row" },
          h("button", { type: "button", class: "ve-select btn btn-link", "aria-pressed": ctx.selected === section.id ? "true" : "false",
            "aria-describedby": ctx.errors[section.id] ? `ve-err-${section.id}` : null },
          section.locked ? h("span", { class: "ve-padlock", "aria-label": L.locked, role: "img", text: "🔒" }) : null,
          `${name} · ${t("columns_n", { n: section.columns.length })}`),
          actions(section.id, sections(), s, { text: name })),
        errorList(section.id),
        h("div", { class: `ve-columns ve-cols-${section.columns.length}` }, section.columns.map((column, c) => h("div", {
          class: "ve-column", "data-column": column.id },
        section.columns.length > 1 ? h("p", { class: "ve-column-title small text-body-secondary mb-1", text: t("column_n", { n: c + 1 }) }) : null,
        h("ol", { class: "ve-blocks list-unstyled mb-1" }, column.blocks.map((block, b) => {
          const slot = wholeSlot(block);
          return h("li", { class: `ve-block${block.locked ? " ve-locked" : ""}${ctx.selected === block.id ? " ve-selected" : ""}${ctx.errors[block.id] ? " ve-has-error" : ""}`,
            "data-id": block.id, draggable: "true" },
          h("div", { class: "ve-row" },
            h("button", { type: "button", class: "ve-select btn btn-link", "aria-pressed": ctx.selected === block.id ? "true" : "false",
              "aria-describedby": ctx.errors[block.id] ? `ve-err-${block.id}` : null },
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
      ctx.selected = id;
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
      Object.entries(ctx.fieldErrors).forEach(([field, messages]) => messages.forEach((message) => items.push(h("li", {},
        `${L[`field_${field}`] || L.document}: ${message}`))));
      Object.entries(ctx.errors).forEach(([id, messages]) => messages.forEach((message) => items.push(h("li", {},
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
    return { renderOutline, renderSummary, select };
  };
})();
