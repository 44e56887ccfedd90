// The channel form (templates/console/notify/channel_form.html): show only the fieldset of
// the chosen kind. Without this script every kind's fieldset shows and the server uses the
// chosen kind's fields only.
(function () {
  "use strict";

  function sync(select) {
    var form = select.form;
    form.querySelectorAll("fieldset.channel-kind").forEach(function (set) {
      var shown = set.getAttribute("data-kind") === select.value;
      set.hidden = !shown;
      set.disabled = !shown;
    });
  }

  function init() {
    var select = document.querySelector("#channel-form select[name=kind]");
    if (!select) { return; }
    select.addEventListener("change", function () { sync(select); });
    sync(select);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
