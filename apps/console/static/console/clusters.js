// The cluster pages' own behaviour (no inline script: the Content-Security-Policy forbids it).
(function () {
  "use strict";
  // The pods table polls its fragment (hx-trigger="every Ns" on #pods-live): not while the
  // browser tab is hidden, and once at once when it is shown again.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.target.id === "pods-live" && document.hidden) {
      event.preventDefault();
    }
  });
  document.addEventListener("visibilitychange", function () {
    var live = document.getElementById("pods-live");
    if (live && !document.hidden && window.htmx) {
      window.htmx.trigger(live, "refresh");
    }
  });
})();
