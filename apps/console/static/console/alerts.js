// Alarm forms (templates/console/alerts/): the policy form shows the fields its type and
// objects need and, in every condition row (new ones too), only the metrics of that type;
// the silence form shows its end only when no preset length is chosen. Without JavaScript
// every field is there and the server says what is wrong.
(function () {
  "use strict";

  function byName(form, name) { return form.querySelector("[name='" + name + "']"); }

  function toggle(nodes, shown) {
    nodes.forEach(function (node) { node.hidden = !shown(node); });
  }

  function filterMetrics(form, type) {
    var prefix = "k8s_" + type + "_";
    form.querySelectorAll("select[data-metric-select]").forEach(function (select) {
      select.querySelectorAll("optgroup").forEach(function (group) {
        var mine = false;
        group.querySelectorAll("option").forEach(function (option) {
          mine = mine || option.value.indexOf(prefix) === 0;
        });
        group.hidden = !mine;
        group.disabled = !mine;
      });
      var chosen = select.value;
      if (chosen && chosen.indexOf(prefix) !== 0) { select.value = ""; }
    });
  }

  function policyForm(form) {
    var type = byName(form, "type");
    var objects = byName(form, "objects_type");
    function refresh() {
      toggle(form.querySelectorAll("[data-for-types]"), function (node) {
        return node.getAttribute("data-for-types").split(" ").indexOf(type.value) !== -1;
      });
      toggle(form.querySelectorAll("[data-for-objects]"), function (node) {
        return node.getAttribute("data-for-objects") === objects.value;
      });
      filterMetrics(form, type.value);
    }
    type.addEventListener("change", refresh);
    objects.addEventListener("change", refresh);
    // forms.js adds condition rows: each new one gets the same metric filter.
    var list = form.querySelector("#group-metrics > .rows-list");
    if (list && window.MutationObserver) {
      new MutationObserver(function () { filterMetrics(form, type.value); })
        .observe(list, { childList: true });
    }
    refresh();
  }

  function silenceForm(form) {
    var duration = byName(form, "duration");
    function refresh() {
      toggle(form.querySelectorAll("[data-for-duration]"), function (node) {
        return node.getAttribute("data-for-duration") === duration.value;
      });
    }
    duration.addEventListener("change", refresh);
    refresh();
  }

  function init() {
    var policy = document.getElementById("policy-form");
    if (policy) { policyForm(policy); }
    var silence = document.getElementById("silence-form");
    if (silence) { silenceForm(silence); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
