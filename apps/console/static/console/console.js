// The console's own behaviour (no inline script: the Content-Security-Policy forbids it).
(function () {
  "use strict";
  // Times are shown in the viewer's time zone: tell the server once (ConsoleTimezoneMiddleware).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("portal_tz=" + zone) === -1) {
      document.cookie = "portal_tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* no Intl: UTC */ }
  // Copy buttons: <button data-copy-target="#id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) { return; }
    var source = document.querySelector(button.getAttribute("data-copy-target"));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.value || source.textContent).then(function () {
        button.setAttribute("data-copied", "true");
      });
    }
  });
})();
// A refused HTMX action (403 with X-Console-Refusal): show the refusal, with its "Why can't
// I?" link, at the top of the page instead of dropping it (htmx swaps only 2xx by default).
document.addEventListener("htmx:beforeSwap", function (event) {
  "use strict";
  var xhr = event.detail.xhr;
  if (xhr.status !== 403 || !xhr.getResponseHeader("X-Console-Refusal")) { return; }
  var previous = document.getElementById("refusal");
  if (previous) { previous.remove(); }
  event.detail.shouldSwap = true;
  event.detail.isError = false;
});
document.addEventListener("htmx:afterSwap", function () {
  "use strict";
  var refusal = document.getElementById("refusal");
  if (refusal && !refusal.hasAttribute("data-seen")) {
    refusal.setAttribute("data-seen", "true");
    refusal.focus();
  }
});
