// The visual e-mail editor's document model (docs/visual-editor.md): finding, adding, moving and
// copying sections and blocks, and the slots they hold. Loaded before visual-editor.js, which calls it.
(() => {
  "use strict";
  const parts = window.RelaisVisualEditor = window.RelaisVisualEditor || {};
  parts.document = (ctx) => {
    const { L, t, data, h, fieldId, outline, panel } = ctx;
    const [commit, announce] = ["commit", "announce"].map(ctx.fn);
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
    // ---- the document -------------------------------------------------------------------------------
    const sections = () => ctx.state.document.sections;
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
        ctx.selected = copy.id;
        announce(t("duplicated", { what: where(copy.id) }));
      } else if (action === "delete") {
        list.splice(index, 1);
        forgetSlots(item);
        if (ctx.selected === id) ctx.selected = null;
        announce(L.deleted);
      }
      commit(null, { structure: true });
      const again = outline.querySelector(`[data-id="${id}"] > .ve-row [data-action="${action}"]`);
      if (again && !again.disabled) again.focus();
      else { const row = outline.querySelector(`[data-id="${ctx.selected || id}"] .ve-select`); if (row) row.focus(); }
    };

    const addBlock = (columnId, type) => {
      const place = locate(columnId);
      if (!place || !NEW_BLOCK[type]) return;
      const block = { id: newId("b"), type, locked: false, ...NEW_BLOCK[type]() };
      place.column.blocks.push(block);
      ctx.selected = block.id;
      commit(null, { structure: true });
      announce(t("added", { what: where(block.id) }));
      const first = panel.querySelector("input:not([disabled]),select,textarea,[contenteditable]");
      if (first) first.focus();
    };
    const addSection = (count) => {
      const section = { id: newId("s"), type: "section", locked: false, background: "", padding: "", columns: [] };
      sections().push(section);
      for (let i = 0; i < count; i += 1) section.columns.push({ id: newId("c"), blocks: [] });
      ctx.selected = section.id;
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
    const slotOf = (name) => ctx.state.slots.find((slot) => slot.name === name);
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
      const label = `${typeLabel(block.type)} ${ctx.state.slots.length + 1}`;
      const slot = { name: slotName(label), type: types[0], label, required: true, default: null, choices: [], help_text: "" };
      if (block.type === "image") { slot.default = (block.src || "").startsWith("asset:") ? block.src.slice(6) : null; block.src = `slot:${slot.name}`; }
      else if (block.type === "button") { slot.default = block.href && block.href !== "https://" ? block.href : null; block.href = `{{ slot.${slot.name} }}`; }
      else if (block.type === "heading") { slot.default = plain(block.text) || null; block.text = `{{ slot.${slot.name} }}`; }
      else { slot.default = block.html || null; block.html = `{{ slot.${slot.name} }}`; }
      if (TEXT_TYPES.includes(slot.type)) slot.max_length = slot.type === "short_text" ? 120 : slot.type === "long_text" ? 1000 : 2000;
      ctx.state.slots.push(slot);
      return slot;
    };
    // A slot no block, subject or preheader uses any more is no longer declared.
    const forgetSlots = (item) => {
      const blocks = item.columns ? item.columns.flatMap((column) => column.blocks) : [item];
      const names = new Set(blocks.flatMap(slotNamesIn));
      const elsewhere = `${ctx.state.subject} ${ctx.state.preheader}`;
      ctx.state.slots = ctx.state.slots.filter((slot) => !names.has(slot.name) || usedElsewhere(slot.name, null)
        || new RegExp(`\\{\\{\\s*slot\\.${slot.name}[\\s.}]`).test(elsewhere));
    };
    const unmakeSlot = (block, name) => {
      const slot = slotOf(name) || {};
      const value = typeof slot.default === "string" ? slot.default : "";
      if (block.type === "image") block.src = value ? `asset:${value}` : "";
      else if (block.type === "button") block.href = value || "https://";
      else if (block.type === "heading") block.text = value;
      else block.html = value;
      if (!usedElsewhere(name, null)) ctx.state.slots = ctx.state.slots.filter((item) => item.name !== name);
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
    return { TEXT_TYPES, SLOT_TYPES_FOR, NEW_BLOCK, sections, locate, allIds, newId, typeLabel, plain, excerpt, mergeLabels, humanise, assetName, where, freshCopy, act, addBlock, addSection, setColumns, slotNamesIn, slotOf, slotLabel, wholeSlot, usedElsewhere, slotName, makeSlot, forgetSlots, unmakeSlot, renameSlot };
  };
})();
