// The visual e-mail editor's properties panel: the selected block's, section's or document's fields,
// the merge-field menu and the slots' forms. Loaded before visual-editor.js, which calls it.
(() => {
  "use strict";
  const parts = window.RelaisVisualEditor = window.RelaisVisualEditor || {};
  parts.panel = (ctx) => {
    const { L, t, data, h, fieldId, outline, panel, TEXT_TYPES, SLOT_TYPES_FOR } = ctx;
    const [commit, announce, renderOutline, locate, where, typeLabel, wholeSlot, slotLabel, slotOf, slotName, slotNamesIn, makeSlot, unmakeSlot, renameSlot, setColumns, richText, headingText, insertChip] = ["commit", "announce", "renderOutline", "locate", "where", "typeLabel", "wholeSlot", "slotLabel", "slotOf", "slotName", "slotNamesIn", "makeSlot", "unmakeSlot", "renameSlot", "setColumns", "richText", "headingText", "insertChip"].map(ctx.fn);
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
      const ownKey = historyKey || `${key}:${fieldId()}`;
      input.addEventListener("input", () => { object[key] = parse(input.value); if (after) after(); commit(ownKey); });
      input.addEventListener("focus", () => { ctx.lastText = type === "text" ? input : null; });
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
    const mergeMenu = (disabled) => {
      const id = fieldId();
      const menu = h("select", { class: "form-select form-select-sm", id, disabled },
        h("option", { value: "", text: L.merge_choose }),
        data.merge.map((group) => h("optgroup", { label: group.label }, group.fields.map((item) => h("option", { value: item.code, text: item.label })))));
      menu.addEventListener("mousedown", () => { menu.dataset.keep = "1"; });
      menu.addEventListener("change", () => {
        const code = menu.value;
        menu.value = "";
        if (code) insertChip(code);
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
        const settings = ctx.state.document.settings;
        const fonts = [...data.fonts];
        if (settings.font_family && !fonts.includes(settings.font_family)) fonts.unshift(settings.font_family);
        return [h("h2", { class: "h6", tabindex: "-1", text: L.document_settings }),
          field(L.field_subject, bind(ctx.state, "subject")), field(L.field_preheader, bind(ctx.state, "preheader"), L.preheader_help),
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
        if (!slot) rows.push(headingText(L.heading_text, block, "text", d));
        rows.push(choose(L.level, block, "level", [[1, "1"], [2, "2"], [3, "3"]], { disabled: d, parse: Number }));
      }
      if (["text", "footer"].includes(block.type) && !slot) rows.push(richText(block.type === "footer" ? L.footer_text : L.text, block, "html", d));
      if (block.type === "footer") rows.push(h("p", { class: "form-text", text: L.footer_help }));
      if (["heading", "text"].includes(block.type)) {
        rows.push(colour(L.text_colour, block, "color", ctx.state.document.settings.text_color || "#222222", d));
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
              const label = `${typeLabel(block.type)} ${ctx.state.slots.length + 1}`;
              const made = { name: slotName(label), type: "short_text", label, required: true, default: null, max_length: 80, choices: [], help_text: "" };
              ctx.state.slots.push(made);  // declared first: the chip shows its label
              if (!insertChip(`slot.${made.name}`)) { ctx.state.slots.pop(); return; }
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
      const place = ctx.selected ? locate(ctx.selected) : null;
      if (ctx.selected && !place) ctx.selected = null;
      const back = place ? h("button", { type: "button", class: "btn btn-sm btn-link px-0 mb-1", text: L.back_to_document, onclick: () => { ctx.selected = null; renderOutline(); renderPanel(); panel.querySelector("h2").focus(); } }) : null;
      const controls = () => [...panel.querySelectorAll("input,select,textarea,button,[contenteditable=true]")];
      const focused = panel.contains(document.activeElement) ? controls().indexOf(document.activeElement) : -1;
      panel.replaceChildren(...[back, ...panelFor(place)].filter(Boolean));
      if (focused >= 0 && controls()[focused]) controls()[focused].focus();
      const blockErrors = place && ctx.errors[ctx.selected];
      if (blockErrors) panel.prepend(h("div", { class: "alert alert-danger small py-1", role: "alert" }, h("ul", { class: "mb-0" }, blockErrors.map((message) => h("li", { text: message })))));
    };

    return { field, bind, colour, choose, mergeMenu, slotForm, panelFor, focusSlot, renderPanel };
  };
})();
