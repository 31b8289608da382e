// The visual e-mail editor's text fields (docs/visual-editor.md): the contenteditable rich text of
// text, heading and footer blocks, where each merge field and slot shows as a labelled chip that
// cannot be edited letter by letter and is written back as exactly its code ({{ namespace.name }}),
// and the inline link dialog. Loaded before visual-editor.js, which calls it.
(() => {
  "use strict";
  const parts = window.RelaisVisualEditor = window.RelaisVisualEditor || {};
  parts.richtext = (ctx) => {
    const { L, t, data, h, fieldId, root, mergeLabels } = ctx;
    const [commit, announce, slotLabel] = ["commit", "announce", "slotLabel"].map(ctx.fn);
    const FIELD = /\{\{\s*([a-z]+\.[a-z0-9_]+(?:\.[a-z]+)?)\s*\}\}/g;
    // The fields a link may be besides an address (templates_lib/blocks/checks.py LINK_FIELDS).
    const LINK_FIELDS = ["branch.website_url", "branch.facebook_url", "branch.instagram_url", "system.view_online_url", "system.unsubscribe_url"];
    const groups = Object.fromEntries(data.merge.flatMap((group) => group.fields.map((item) => [item.code, group.label])));

    // ---- chips ----------------------------------------------------------------------------------
    const fieldLabel = (code) => {
      const [namespace, name, part] = code.split(".");
      if (namespace === "slot") return `${slotLabel(name)}${part ? ` · ${L[`part_${part}`] || part}` : ""}`;
      if (namespace === "system") return L[`system_${name}`] || code;
      if (!mergeLabels[code]) return code;
      return namespace === "recipient" ? mergeLabels[code] : `${groups[code]} · ${mergeLabels[code]}`;
    };
    const chip = (code, raw) => {
      const label = fieldLabel(code);
      return h("span", { contenteditable: "false", class: `ve-chip${code.startsWith("slot.") ? " ve-chip-slot" : ""}`, "data-field": code,
        "data-raw": raw || `{{ ${code} }}`, role: "img", "aria-label": t(code.startsWith("slot.") ? "chip_slot" : "chip_merge", { label }), text: label });
    };
    // The stored HTML shown with chips: only text nodes change, so the rest is the browser's own reading.
    const fill = (editable, html) => {
      const box = document.createElement("template");
      box.innerHTML = html || "";
      const walker = document.createTreeWalker(box.content, NodeFilter.SHOW_TEXT);
      const texts = [];
      while (walker.nextNode()) texts.push(walker.currentNode);
      texts.forEach((node) => {
        const text = node.nodeValue;
        if (!FIELD.test(text)) return;
        FIELD.lastIndex = 0;
        const pieces = [];
        let from = 0;
        for (const match of text.matchAll(FIELD)) {
          if (match.index > from) pieces.push(text.slice(from, match.index));
          pieces.push(chip(match[1], match[0]));
          from = match.index + match[0].length;
        }
        if (from < text.length) pieces.push(text.slice(from));
        node.replaceWith(...pieces);
      });
      editable.replaceChildren(box.content);
    };
    // Back to the stored HTML: each chip is its code again, byte for byte as it was read.
    const serialise = (editable) => {
      const copy = editable.cloneNode(true);
      copy.querySelectorAll(".ve-chip").forEach((node) => node.replaceWith(node.dataset.raw || `{{ ${node.dataset.field} }}`));
      return copy.innerHTML;
    };

    // The caret of each text field, kept while the merge menu or the link dialog has the focus.
    const carets = new WeakMap();
    document.addEventListener("selectionchange", () => {
      const selection = window.getSelection();
      if (!selection.rangeCount) return;
      const range = selection.getRangeAt(0);
      const editable = range.startContainer.parentElement?.closest?.(".ve-rich") || (range.startContainer.classList?.contains("ve-rich") ? range.startContainer : null);
      // only while the field has the focus: leaving it for the Link button or the menu may collapse it
      if (editable && editable === document.activeElement) carets.set(editable, range.cloneRange());
    });
    const caretIn = (editable) => {
      const kept = carets.get(editable);
      if (kept && editable.contains(kept.startContainer)) return kept;
      const range = document.createRange();
      range.selectNodeContents(editable);
      range.collapse(false);
      return range;
    };
    const placeCaret = (range) => { const selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range); };

    // Backspace and Delete take a chip away whole.
    const chipBeside = (editable, backward) => {
      const selection = window.getSelection();
      if (!selection.rangeCount || !selection.isCollapsed) return null;
      const { startContainer: node, startOffset: offset } = selection.getRangeAt(0);
      if (!editable.contains(node)) return null;
      let candidate;
      if (node.nodeType === Node.TEXT_NODE) {
        if (backward ? offset > 0 : offset < node.length) return null;
        candidate = backward ? node.previousSibling : node.nextSibling;
      } else {
        candidate = backward ? node.childNodes[offset - 1] : node.childNodes[offset];
      }
      while (candidate && candidate.nodeType === Node.TEXT_NODE && !candidate.length) candidate = backward ? candidate.previousSibling : candidate.nextSibling;
      return candidate && candidate.classList && candidate.classList.contains("ve-chip") ? candidate : null;
    };

    const editableFor = (label, object, key, disabled, { inline }) => {
      const id = fieldId();
      const editable = h("div", { class: `ve-rich${inline ? " ve-rich-inline" : ""} form-control form-control-sm`, id, role: "textbox",
        "aria-multiline": inline ? "false" : "true", "aria-labelledby": `${id}-label`, contenteditable: disabled ? "false" : "true" });
      fill(editable, object[key]);
      const sync = () => { object[key] = serialise(editable); commit(`${key}:${id}`); };
      editable.sync = sync;
      editable.addEventListener("input", sync);
      editable.addEventListener("focus", () => { ctx.lastText = editable; });
      const remember = () => {
        const selection = window.getSelection();
        if (selection.rangeCount && editable.contains(selection.getRangeAt(0).startContainer)) carets.set(editable, selection.getRangeAt(0).cloneRange());
      };
      ["blur", "keyup", "mouseup"].forEach((name) => editable.addEventListener(name, remember));
      editable.addEventListener("keydown", (event) => {
        if (inline && event.key === "Enter") { event.preventDefault(); return; }
        if (event.key !== "Backspace" && event.key !== "Delete") return;
        const gone = chipBeside(editable, event.key === "Backspace");
        if (!gone) return;
        event.preventDefault();
        const range = document.createRange();
        range.setStartBefore(gone);
        range.collapse(true);
        gone.remove();
        placeCaret(range);
        sync();
      });
      editable.addEventListener("paste", (event) => {
        event.preventDefault();
        document.execCommand("insertText", false, (event.clipboardData || window.clipboardData).getData("text/plain"));
      });
      return { id, editable, sync };
    };
    const richText = (label, object, key, disabled) => {
      const { id, editable, sync } = editableFor(label, object, key, disabled, { inline: false });
      const command = (name) => () => { editable.focus(); placeCaret(caretIn(editable)); document.execCommand(name, false); sync(); };
      const linkButton = h("button", { type: "button", class: "btn btn-outline-secondary", text: L.link, "aria-haspopup": "dialog" });
      linkButton.addEventListener("click", () => openLinkDialog(editable, linkButton));
      const tools = disabled ? null : h("div", { class: "btn-group btn-group-sm mb-1", role: "group", "aria-label": t("format_of", { what: label }) },
        h("button", { type: "button", class: "btn btn-outline-secondary", onclick: command("bold"), "aria-label": L.bold, title: L.bold }, h("b", { text: "B" })),
        h("button", { type: "button", class: "btn btn-outline-secondary", onclick: command("italic"), "aria-label": L.italic, title: L.italic }, h("i", { text: "I" })),
        linkButton);
      return h("div", { class: "mb-2" }, h("span", { class: "form-label small mb-0 d-block", id: `${id}-label`, text: label }), tools, editable);
    };
    // A heading: one line of text with its chips.
    const headingText = (label, object, key, disabled) => {
      const { id, editable } = editableFor(label, object, key, disabled, { inline: true });
      return h("div", { class: "mb-2" }, h("span", { class: "form-label small mb-0 d-block", id: `${id}-label`, text: label }), editable);
    };

    // The merge menu's choice at the caret of the last text field: a chip, or the code in a plain field.
    const insertChip = (code) => {
      const target = ctx.lastText && ctx.lastText.isConnected ? ctx.lastText : null;
      if (!target) { announce(L.pick_text_first); return false; }
      if (!target.isContentEditable) {
        target.focus();
        const start = target.selectionStart ?? target.value.length;
        target.setRangeText(`{{ ${code} }}`, start, target.selectionEnd ?? start, "end");
        target.dispatchEvent(new Event("input", { bubbles: true }));
        return true;
      }
      const range = caretIn(target);
      target.focus();
      range.deleteContents();
      const node = chip(code);
      range.insertNode(node);
      range.setStartAfter(node);
      range.collapse(true);
      placeCaret(range);
      target.sync();
      return true;
    };

    // ---- the link dialog ------------------------------------------------------------------------
    let dialog = null;
    const linkDialog = () => {
      if (dialog) return dialog;
      const urlId = fieldId();
      const fieldSelectId = fieldId();
      const titleId = fieldId();
      const url = h("input", { type: "url", class: "form-control form-control-sm", id: urlId, inputmode: "url", autocomplete: "off",
        "aria-describedby": `${urlId}-help`, placeholder: "https://" });
      const error = h("div", { class: "invalid-feedback", id: `${urlId}-error` });
      const choice = h("select", { class: "form-select form-select-sm", id: fieldSelectId },
        h("option", { value: "", text: L.link_field_none }), LINK_FIELDS.map((code) => h("option", { value: code, text: fieldLabel(code) })));
      const remove = h("button", { type: "button", class: "btn btn-sm btn-outline-danger", text: L.unlink });
      const cancel = h("button", { type: "button", class: "btn btn-sm btn-outline-secondary", text: L.link_cancel });
      const form = h("form", { method: "dialog", novalidate: true },
        h("h2", { class: "h6", id: titleId, text: L.link_dialog }),
        h("div", { class: "mb-2" }, h("label", { for: urlId, class: "form-label small mb-0", text: L.link_url }), url, error,
          h("div", { class: "form-text", id: `${urlId}-help`, text: L.link_url_help })),
        h("div", { class: "mb-2" }, h("label", { for: fieldSelectId, class: "form-label small mb-0", text: L.link_field }), choice),
        h("div", { class: "d-flex flex-wrap gap-2" }, h("button", { type: "submit", class: "btn btn-sm btn-primary", text: L.link_apply }), remove, cancel));
      dialog = h("dialog", { class: "ve-link-dialog border rounded shadow p-3", "aria-labelledby": titleId }, form);
      root.append(dialog);
      dialog.parts = { form, url, error, choice, remove, cancel };
      const syncChoice = () => { url.disabled = Boolean(choice.value); if (choice.value) showError(""); };
      const showError = (message) => {
        error.textContent = message;
        url.classList.toggle("is-invalid", Boolean(message));
        url.setAttribute("aria-describedby", message ? `${urlId}-error ${urlId}-help` : `${urlId}-help`);
        url.setAttribute("aria-invalid", message ? "true" : "false");
      };
      dialog.showError = showError;
      dialog.syncChoice = syncChoice;
      choice.addEventListener("change", syncChoice);
      return dialog;
    };
    const validHref = (value) => {
      if (/^mailto:[^\s?&<>"]+@[^\s?&<>"]+$/i.test(value)) return true;
      try {
        const parsed = new URL(value);
        return ["https:", "http:"].includes(parsed.protocol) && parsed.hostname.includes(".") && !/[\s{}<>"]/.test(value);
      } catch (error) {
        return false;
      }
    };
    const openLinkDialog = (editable, opener) => {
      const box = linkDialog();
      const { form, url, choice, remove, cancel } = box.parts;
      const range = caretIn(editable);
      const start = range.startContainer.nodeType === Node.TEXT_NODE ? range.startContainer.parentElement : range.startContainer;
      const anchor = start && start.closest("a") && editable.contains(start.closest("a")) ? start.closest("a") : null;
      const current = anchor ? anchor.getAttribute("href") || "" : "";
      const field = (current.match(/^\{\{\s*([a-z]+\.[a-z0-9_]+)\s*\}\}$/) || [])[1] || "";
      choice.value = LINK_FIELDS.includes(field) ? field : "";
      url.value = choice.value ? "" : current || "https://";
      remove.hidden = !anchor;
      box.showError("");
      box.syncChoice();
      const done = () => {
        box.close();
        opener.focus();
      };
      cancel.onclick = done;
      form.onsubmit = (event) => {
        event.preventDefault();
        const href = choice.value ? `{{ ${choice.value} }}` : url.value.trim();
        if (!choice.value && !validHref(href)) { box.showError(L.link_invalid); url.focus(); return; }
        if (anchor) {
          anchor.setAttribute("href", href);
        } else if (range.collapsed) {
          const link = h("a", { href }, choice.value ? mergeLabels[choice.value] || fieldLabel(choice.value) : href);
          range.insertNode(link);
        } else {
          const link = h("a", { href });
          link.append(range.extractContents());
          range.insertNode(link);
        }
        editable.sync();
        announce(L.link_applied);
        done();
      };
      remove.onclick = () => {
        if (anchor) { anchor.replaceWith(...anchor.childNodes); editable.sync(); }
        done();
      };
      box.oncancel = () => { window.setTimeout(() => opener.focus(), 0); };  // Escape: nothing changes
      box.showModal();
      (choice.value ? choice : url).focus();
    };

    return { richText, headingText, insertChip, fill, serialise };
  };
})();
