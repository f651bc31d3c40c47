// The console's queue: every 15 seconds the table is fetched again and replaced when it changed, and the
// count of open requests is announced (a polite live region). "Sospendi l'aggiornamento" stops it (WCAG
// 2.2.1: a page that changes by itself can be paused). Without script the page is reloaded by hand.
(function () {
  "use strict";
  var EVERY_MS = 15000;
  var table = document.getElementById("queue");
  var count = document.getElementById("count");
  var button = document.getElementById("pause");
  if (!table || !count || !button) return;
  var paused = false;
  button.hidden = false;
  button.addEventListener("click", function () {
    paused = !paused;
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    button.textContent = paused ? "Riprendi l'aggiornamento" : "Sospendi l'aggiornamento";
  });
  function refresh() {
    if (paused || document.hidden) return;
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok && !r.redirected ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var freshTable = fresh.getElementById("queue");
        var freshCount = fresh.getElementById("count");
        if (freshTable && freshTable.innerHTML !== table.innerHTML) table.innerHTML = freshTable.innerHTML;
        if (freshCount && freshCount.textContent !== count.textContent) count.textContent = freshCount.textContent;
      })
      .catch(function () { /* offline for a moment: the next round tries again */ });
  }
  setInterval(refresh, EVERY_MS);
})();
