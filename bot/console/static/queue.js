// The console's queue, live: every 2.5 seconds the script asks the server for the queue's version (a short
// JSON from /console/coda/versione, the URL in #queue's data-poll) and fetches the page again only when it
// changed, or once a minute anyway (the "Da" column's minutes). The count of open requests is announced
// (#count, a polite live region). "Sospendi l'aggiornamento" stops it (WCAG 2.2.1: a page that changes by
// itself can be paused). Signed out, or another partner's session in this browser: it stops and says so.
// Without script the page works the same and is reloaded by hand.
(function () {
  "use strict";
  var EVERY_MS = 2500;
  var REDRAW_MS = 60000;
  var table = document.getElementById("queue");
  var count = document.getElementById("count");
  var button = document.getElementById("pause");
  var live = document.getElementById("live");
  if (!table || !count || !button || !live || !table.dataset.poll) return;
  var pollUrl = table.dataset.poll;
  var version = table.dataset.version || "";
  var drawnAt = Date.now();
  var paused = false;
  var busy = false;
  var timer = null;
  live.textContent = "La tabella si aggiorna da sola: una richiesta nuova compare entro pochi secondi.";
  button.hidden = false;
  button.addEventListener("click", function () {
    paused = !paused;
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    button.textContent = paused ? "Riprendi l'aggiornamento" : "Sospendi l'aggiornamento";
    if (!paused) poll();
  });
  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    button.hidden = true;
    live.textContent = "Aggiornamento automatico interrotto: ricarica la pagina.";
  }
  function redraw() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok && !r.redirected ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var freshTable = fresh.getElementById("queue");
        var freshCount = fresh.getElementById("count");
        if (freshTable && freshTable.innerHTML !== table.innerHTML) table.innerHTML = freshTable.innerHTML;
        if (freshCount && freshCount.textContent !== count.textContent) count.textContent = freshCount.textContent;
        if (freshTable && freshTable.dataset.version) version = freshTable.dataset.version;
        drawnAt = Date.now();
      });
  }
  function poll() {
    if (paused || busy || timer === null || document.hidden) return;
    busy = true;
    fetch(pollUrl, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { stop(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (answer) {
        if (!answer) return null;
        if (answer.version !== version || Date.now() - drawnAt > REDRAW_MS) return redraw();
        return null;
      })
      .catch(function () { /* offline for a moment: the next round tries again */ })
      .then(function () { busy = false; });
  }
  timer = setInterval(poll, EVERY_MS);
  document.addEventListener("visibilitychange", poll);
})();
