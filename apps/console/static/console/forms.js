// Object forms (templates/console/forms/): repeating groups gain and lose rows without a
// reload, and a form the cluster refused (400/409/422) is swapped in with its errors.
(function () {
  "use strict";

  function addRow(group) {
    var template = group.querySelector(":scope > template");
    var list = group.querySelector(":scope > .rows-list");
    if (!template || !list) { return; }
    var placeholder = group.getAttribute("data-placeholder") || "__i__";
    var next = parseInt(group.getAttribute("data-next") || "0", 10);
    group.setAttribute("data-next", String(next + 1));
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.split(placeholder).join(String(next));
    var row = holder.firstElementChild;
    while (holder.firstChild) { list.appendChild(holder.firstChild); }
    var first = row && row.querySelector("input:not([type=hidden]), select, textarea");
    if (first) { first.focus(); }
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      event.preventDefault();
      var group = document.getElementById(add.getAttribute("data-add-row"));
      if (group) { addRow(group); }
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      event.preventDefault();
      var item = remove.closest(".row-item");
      var owner = item && item.closest(".rows-group");
      if (item) { item.remove(); }
      var button = owner && owner.querySelector(":scope > [data-add-row]");
      if (button) { button.focus(); }
    }
  });

  // htmx leaves 4xx answers unswapped by default: an editor's answer carries its errors.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var target = event.detail.target;
    if (target && target.closest("[data-swap-errors]") && status >= 400 && status < 600) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      // A missing object is the console's 404 page: show its message in place of the part
      // that was asked for. (A refusal is shown at the top of the page by console.js.)
      if (status === 404 && event.detail.xhr.responseText.indexOf('id="not-found"') !== -1) {
        event.detail.selectOverride = "#not-found";
      }
    }
  });
})();
