// The brand kit page's live preview: colours, font, button and footer as they are typed.
// The footer is rebuilt from an inert parse keeping only the tags the server keeps (nothing runs).
(function () {
  "use strict";
  var form = document.getElementById("brand-kit-form");
  var preview = document.getElementById("kit-preview");
  if (!form || !preview) { return; }
  var KEPT = { P: 1, BR: 1, B: 1, STRONG: 1, I: 1, EM: 1, A: 1, SPAN: 1 };

  function value(name) {
    var field = form.elements[name];
    return field ? field.value : "";
  }

  function copyKept(source, target) {
    source.childNodes.forEach(function (node) {
      if (node.nodeType === Node.TEXT_NODE) {
        target.appendChild(document.createTextNode(node.textContent));
      } else if (node.nodeType === Node.ELEMENT_NODE && KEPT[node.tagName]) {
        var copy = document.createElement(node.tagName === "A" ? "span" : node.tagName.toLowerCase());
        if (node.tagName === "A") { copy.style.textDecoration = "underline"; }
        copyKept(node, copy);
        target.appendChild(copy);
      } else if (node.nodeType === Node.ELEMENT_NODE && node.tagName !== "SCRIPT" && node.tagName !== "STYLE") {
        copyKept(node, target);
      }
    });
  }

  function update() {
    preview.querySelectorAll("[data-swatch]").forEach(function (swatch) {
      swatch.style.backgroundColor = value(swatch.getAttribute("data-swatch"));
    });
    var body = preview.querySelector("[data-kit-body]");
    body.style.backgroundColor = value("background_color");
    body.style.color = value("text_color");
    var font = form.elements.font_stack;
    body.style.fontFamily = font ? font.value : "";
    preview.querySelector("[data-kit-heading]").style.color = value("primary_color");
    var button = preview.querySelector("[data-kit-button]");
    button.style.backgroundColor = value("button_background");
    button.style.color = value("button_color");
    var radius = parseInt(value("button_radius"), 10);
    button.style.borderRadius = isNaN(radius) ? "0" : Math.min(radius, 40) + "px";
    var footer = preview.querySelector("[data-kit-footer]");
    var parsed = new DOMParser().parseFromString(value("footer_html"), "text/html");
    footer.replaceChildren();
    copyKept(parsed.body, footer);
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
