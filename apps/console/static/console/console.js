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
