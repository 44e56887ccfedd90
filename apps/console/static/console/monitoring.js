// The "Monitoring" panel of the cluster, node, workload and pod pages: fetches the object's
// metrics from /api/v1/metrics/ (session cookie; a GET needs no CSRF token) and draws one uPlot
// chart per group (CPU, memory, pods, restarts, network). No inline script: the
// Content-Security-Policy forbids it; the charts and their translated titles come in the
// panel's JSON (#monitoring-config).
(function () {
  "use strict";

  var STEPS = { 3600: 60, 21600: 60, 86400: 300, 604800: 3600 };
  var COLORS = ["#0d6efd", "#fd7e14", "#6c757d", "#198754", "#dc3545"];

  function humanBytes(value) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var i = 0;
    var v = Math.abs(value);
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i += 1;
    }
    return (value < 0 ? "-" : "") + (v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i];
  }

  function formatter(unit) {
    if (unit === "bytes") {
      return humanBytes;
    }
    if (unit === "bytes/s") {
      return function (v) { return humanBytes(v) + "/s"; };
    }
    if (unit === "percent") {
      return function (v) { return v.toFixed(1) + " %"; };
    }
    if (unit === "core") {
      return function (v) { return v < 1 ? (v * 1000).toFixed(0) + "m" : v.toFixed(2); };
    }
    return function (v) { return String(Math.round(v * 100) / 100); };
  }

  function metricNames(config) {
    var names = [];
    config.charts.forEach(function (chart) {
      chart.series.forEach(function (s) {
        if (names.indexOf(s.metric) < 0) {
          names.push(s.metric);
        }
      });
    });
    return names;
  }

  // One uPlot data table for a chart: shared timestamps, one column per series (null = gap).
  function table(chart, byMetric) {
    var stamps = {};
    chart.series.forEach(function (s) {
      (byMetric[s.metric] || []).forEach(function (p) { stamps[p[0]] = true; });
    });
    var xs = Object.keys(stamps).map(Number).sort(function (a, b) { return a - b; });
    if (!xs.length) {
      return null;
    }
    var columns = chart.series.map(function (s) {
      var at = {};
      (byMetric[s.metric] || []).forEach(function (p) { at[p[0]] = p[1]; });
      return xs.map(function (x) { return x in at ? at[x] : null; });
    });
    return [xs].concat(columns);
  }

  function draw(panel, config, body) {
    var holder = panel.querySelector("#monitoring-charts");
    var empty = panel.querySelector("#monitoring-empty");
    holder.textContent = "";
    var byMetric = {};
    body.series.forEach(function (s) {
      // "k8s_pod_cpu_core_used" → "cpu_core_used"
      var short = s.metric.replace("k8s_" + body.level + "_", "");
      byMetric[short] = s.points;
    });
    var drawn = 0;
    var points = 0;
    config.charts.forEach(function (chart) {
      var data = table(chart, byMetric);
      if (!data) {
        return; // nothing for this group (no network metrics from this source …)
      }
      points += data[0].length;
      var column = document.createElement("div");
      column.className = "col-12 col-xl-6";
      var figure = document.createElement("figure");
      figure.className = "monitoring-chart border rounded p-2 mb-0";
      figure.id = "monitoring-chart-" + chart.id;
      var caption = document.createElement("figcaption");
      caption.className = "small fw-semibold mb-1";
      caption.textContent = chart.title;
      figure.appendChild(caption);
      column.appendChild(figure);
      holder.appendChild(column);
      var format = formatter(chart.unit);
      var width = Math.max(280, figure.clientWidth - 16);
      var series = [{}].concat(chart.series.map(function (s, i) {
        return {
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          width: i === 0 ? 2 : 1.5,
          dash: i === 0 ? undefined : [6, 4],
          spanGaps: false,
          value: function (u, v) { return v == null ? "—" : format(v); }
        };
      }));
      /* global uPlot */
      new uPlot({
        width: width,
        height: 200,
        series: series,
        axes: [{}, { size: 64, values: function (u, vals) { return vals.map(format); } }],
        scales: { x: { time: true } }
      }, data, figure);
      drawn += 1;
    });
    empty.hidden = drawn > 0;
    if (!drawn) {
      empty.textContent = config.strings.empty;
    }
    panel.dataset.state = drawn ? "ready" : "empty";
    panel.dataset.points = String(points);
  }

  function load(panel, config, seconds) {
    var end = Math.floor(Date.now() / 1000);
    var params = new URLSearchParams({
      cluster: panel.dataset.cluster,
      level: panel.dataset.level,
      object: panel.dataset.object,
      metric: metricNames(config).join(","),
      start: String(end - seconds),
      end: String(end),
      step: String(STEPS[seconds] || 60)
    });
    var error = panel.querySelector("#monitoring-error");
    panel.dataset.state = "loading";
    fetch(panel.dataset.url + "?" + params.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          throw new Error(body.detail || response.statusText);
        }
        return body;
      });
    }).then(function (body) {
      error.hidden = true;
      draw(panel, config, body);
    }).catch(function (problem) {
      error.textContent = config.strings.failed.replace("%(reason)s", problem.message);
      error.hidden = false;
      panel.dataset.state = "error";
    });
  }

  function start() {
    var panel = document.getElementById("monitoring");
    var source = document.getElementById("monitoring-config");
    if (!panel || !source || typeof uPlot === "undefined" || panel.dataset.started) {
      return;
    }
    panel.dataset.started = "1";
    var config = JSON.parse(source.textContent);
    var buttons = panel.querySelectorAll("[data-range]");
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        buttons.forEach(function (b) {
          b.classList.toggle("active", b === button);
          b.setAttribute("aria-pressed", b === button ? "true" : "false");
        });
        load(panel, config, Number(button.dataset.range));
      });
    });
    load(panel, config, Number(buttons[0].dataset.range));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  // A page part swapped by HTMX (the node page's label form swaps the whole page) brings a
  // fresh, not yet started panel.
  document.addEventListener("htmx:afterSettle", start);
})();
