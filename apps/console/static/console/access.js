// Access management: the API key copy button and the policy statement editor.
// (No inline script: the Content-Security-Policy forbids it. Delegated listeners, so content
// swapped in by HTMX works without re-binding.)
(function () {
  "use strict";
  if (window.portalAccess) { return; }
  window.portalAccess = true;

  function say(status, key) {
    if (status) { status.textContent = status.getAttribute(key) || ""; }
  }

  // Copy the new API key: the clipboard when the browser allows it, else select the text.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-access-copy]");
    if (!button) { return; }
    var field = document.querySelector(button.getAttribute("data-access-copy"));
    var status = document.getElementById("new-key-copied");
    if (!field) { return; }
    var fallback = function () {
      field.focus();
      field.select();
      say(status, "data-failed-text");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () {
        button.setAttribute("data-copied", "true");
        say(status, "data-copied-text");
      }, fallback);
    } else {
      fallback();
    }
  });

  // Statement editor: add an action chosen from the catalogue to a statement's actions.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-action]");
    if (!button) { return; }
    var select = document.getElementById(button.getAttribute("data-add-action"));
    var area = select && document.getElementById(select.getAttribute("data-catalogue-for"));
    if (!area || !select.value) { return; }
    var lines = area.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
    if (lines.indexOf(select.value) === -1) { lines.push(select.value); }
    area.value = lines.join("\n");
  });

  // Add a statement (a copy of the blank row with the next free index) or remove one.
  document.addEventListener("click", function (event) {
    var add = event.target.closest("#add-statement");
    if (add) {
      var list = document.getElementById("statements");
      var template = document.getElementById("statement-template");
      if (!list || !template) { return; }
      var next = 0;
      list.querySelectorAll(".statement").forEach(function (row) {
        next = Math.max(next, parseInt(row.getAttribute("data-index"), 10) + 1);
      });
      var html = template.innerHTML.split("__i__").join(String(next));
      list.insertAdjacentHTML("beforeend", html);
      var row = list.lastElementChild;
      var legend = row.querySelector("legend");
      if (legend) { legend.textContent = legend.textContent.replace(/\s*$/, " " + (next + 1)); }
      var first = row.querySelector("select, textarea");
      if (first) { first.focus(); }
      return;
    }
    var remove = event.target.closest("[data-remove-statement]");
    if (remove) {
      var statement = remove.closest(".statement");
      // Emptied rows are dropped by the server; removing the element says the same.
      statement.remove();
      var addButton = document.getElementById("add-statement");
      if (addButton) { addButton.focus(); }
    }
  });
})();
