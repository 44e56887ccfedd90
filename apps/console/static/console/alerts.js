// Alarm forms (templates/console/alerts/): the policy form shows the fields its type and
// objects need and, in every condition row (new ones too), only the metrics of that type;
// the silence form shows its end only when no preset length is chosen. With chosen objects,
// the cluster's nodes, pods or workloads (alert_objects.py) are offered as check boxes that
// fill the object names. Without JavaScript every field is there, the names are typed, and
// the server says what is wrong.
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

  function lines(text) {
    return text.split("\n").map(function (line) { return line.trim(); })
      .filter(function (line) { return line; });
  }

  // The object names' check boxes: each mirrors one line of the text box (which stays the
  // value sent, so names of objects not created yet can still be typed).
  function objectPicker(form, type, objects) {
    var picker = document.getElementById("object-picker");
    if (!picker || !window.fetch || !window.URLSearchParams) { return function () {}; }
    var names = byName(form, "object_names");
    var list = picker.querySelector("#object-picker-list");
    var status = picker.querySelector("#object-picker-status");
    var cluster = byName(form, "cluster");
    var namespace = byName(form, "namespace");
    var kind = byName(form, "workload_kind");
    var asked = "";
    picker.hidden = false;

    function say(key) { status.textContent = key ? picker.getAttribute("data-msg-" + key) : ""; }

    function sync() {
      var chosen = lines(names.value);
      list.querySelectorAll("input[type='checkbox']").forEach(function (box) {
        box.checked = chosen.indexOf(box.value) !== -1;
      });
    }

    function choose(name, on) {
      var chosen = lines(names.value);
      var at = chosen.indexOf(name);
      if (on && at === -1) { chosen.push(name); }
      if (!on && at !== -1) { chosen.splice(at, 1); }
      names.value = chosen.join("\n");
    }

    function show(found) {
      list.textContent = "";
      found.forEach(function (name, index) {
        var item = document.createElement("div");
        item.className = "form-check mb-0";
        var box = document.createElement("input");
        box.type = "checkbox";
        box.className = "form-check-input";
        box.id = "object-pick-" + index;
        box.value = name;
        box.addEventListener("change", function () { choose(name, box.checked); });
        var label = document.createElement("label");
        label.className = "form-check-label font-monospace";
        label.htmlFor = box.id;
        label.textContent = name;
        item.appendChild(box);
        item.appendChild(label);
        list.appendChild(item);
      });
      sync();
    }

    function load() {
      list.textContent = "";
      asked = "";
      var policyType = type.value;
      if (objects.value !== "part" || policyType === "cluster") { say(""); return; }
      var name = cluster ? cluster.value : picker.getAttribute("data-cluster");
      if (!name) { say("cluster"); return; }
      var query = new URLSearchParams({ type: policyType });
      if (policyType === "pod" || policyType === "workload") {
        if (!namespace.value.trim()) { say("namespace"); return; }
        if (policyType === "workload" && !kind.value) { say("kind"); return; }
        query.set("namespace", namespace.value.trim());
        query.set("workload_kind", kind.value);
      }
      var url = picker.getAttribute("data-url").replace("__cluster__", encodeURIComponent(name)) +
        "?" + query.toString();
      asked = url;
      say("loading");
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        })
        .then(function (answer) {
          if (url !== asked) { return; }  // the form changed since: a newer list is coming
          if (!answer.ok) {
            status.textContent = answer.body.detail || picker.getAttribute("data-msg-failed");
            return;
          }
          show(answer.body.names);
          say(answer.body.truncated ? "truncated" : answer.body.names.length ? "" : "none");
        })
        .catch(function () { if (url === asked) { say("failed"); } });
    }

    names.addEventListener("input", sync);
    [cluster, namespace, kind].forEach(function (field) {
      if (field) { field.addEventListener("change", load); }
    });
    return load;
  }

  function policyForm(form) {
    var type = byName(form, "type");
    var objects = byName(form, "objects_type");
    var loadObjects = objectPicker(form, type, objects);
    function refresh() {
      toggle(form.querySelectorAll("[data-for-types]"), function (node) {
        return node.getAttribute("data-for-types").split(" ").indexOf(type.value) !== -1;
      });
      toggle(form.querySelectorAll("[data-for-objects]"), function (node) {
        return node.getAttribute("data-for-objects") === objects.value;
      });
      filterMetrics(form, type.value);
    }
    function changed() { refresh(); loadObjects(); }
    type.addEventListener("change", changed);
    objects.addEventListener("change", changed);
    // forms.js adds condition rows: each new one gets the same metric filter.
    var list = form.querySelector("#group-metrics > .rows-list");
    if (list && window.MutationObserver) {
      new MutationObserver(function () { filterMetrics(form, type.value); })
        .observe(list, { childList: true });
    }
    refresh();
    loadObjects();
  }

  function silenceForm(form) {
    var duration = byName(form, "duration");
    if (!duration) { return; }  // editing: the end is given
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
