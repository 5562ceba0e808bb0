// Progressive enhancement only: the console works without JavaScript (forms post, pages reload).
(function () {
  "use strict";
  // SLA timers: amber in the last 25% before the first-response due time, red once it passed.
  function paintSla() {
    document.querySelectorAll("td.sla").forEach(function (cell) {
      if (cell.dataset.answered === "yes") { return; }
      var due = Date.parse(cell.dataset.due), now = Date.now();
      cell.classList.toggle("red", now >= due);
      cell.classList.toggle("amber", now < due && due - now < 15 * 60 * 1000);
    });
  }
  paintSla();
  setInterval(paintSla, 10000);
  // Canned replies fill the reply box (textContent: never HTML).
  var canned = document.querySelector("select[name=canned]");
  var box = document.querySelector("textarea[name=text]");
  if (canned && box) {
    canned.addEventListener("change", function () {
      var option = canned.options[canned.selectedIndex];
      if (canned.value) { box.value = option.textContent; }
    });
  }
  // Live updates: new cases, messages and alerts refresh the page's live part.
  var live = document.querySelector("[data-live]");
  if (live && window.EventSource) {
    var source = new EventSource("/console/events");
    source.addEventListener("update", function () {
      if (box && box.value) { return; }  // never lose what the nurse is typing
      window.location.reload();
    });
    // The session ended (signed out elsewhere, expired, account disabled): back to sign-in.
    source.addEventListener("signed-out", function () {
      source.close();
      window.location.assign("/console/login");
    });
  }
})();
