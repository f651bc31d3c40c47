// Concilia web chat: talks to POST api/chat on the same origin, and polls GET api/chat/updates every few
// seconds for what arrives later (an operator's messages after a handoff). The session is the server's
// HttpOnly cookie: this script never sees it. "Nuova conversazione" ends it (DELETE api/chat/session).
// No external assets, no innerHTML: every text from the server is inserted as text, links are elements.
(function () {
  "use strict";

  var AFTER_KEY = "concilia.after";  // the last update already shown
  var POLL_MS = 3000;
  var LINK_RE = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]])/g;

  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var send = document.getElementById("send");
  var status = document.getElementById("status");
  var busy = false;

  try { localStorage.removeItem("concilia.user"); } catch (e) { /* the id pages kept before sessions */ }
  var after = 0;
  try { after = parseInt(localStorage.getItem(AFTER_KEY) || "0", 10) || 0; } catch (e) { after = 0; }
  if (after < 0) after = 0;
  var polling = false;
  var started = false;  // polls begin once the first answer brought the session cookie
  var expiredShown = false;

  function appendText(el, text) {
    var last = 0;
    text.replace(LINK_RE, function (url, _g, offset) {
      if (offset > last) el.appendChild(document.createTextNode(text.slice(last, offset)));
      var a = document.createElement("a");
      a.href = url;
      a.textContent = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      el.appendChild(a);
      last = offset + url.length;
      return url;
    });
    if (last < text.length) el.appendChild(document.createTextNode(text.slice(last)));
  }

  function bubble(kind, text) {
    var div = document.createElement("div");
    div.className = "msg " + kind;
    appendText(div, text);
    log.appendChild(div);
    div.scrollIntoView({ block: "end" });
    return div;
  }

  function showReplies(replies, kind) {
    replies.forEach(function (reply) {
      var div = bubble(kind || "bot", reply.text || "");
      if (reply.buttons && reply.buttons.length) {
        var group = document.createElement("div");
        group.className = "buttons";
        group.setAttribute("role", "group");
        group.setAttribute("aria-label", "Scelte possibili");
        reply.buttons.forEach(function (b) {
          var button = document.createElement("button");
          button.type = "button";
          button.textContent = b.title;
          button.addEventListener("click", function () { ask({ payload: b.payload }, b.title); });
          group.appendChild(button);
        });
        div.appendChild(group);
        div.scrollIntoView({ block: "end" });
      }
    });
  }

  function setBusy(on) {
    busy = on;
    send.disabled = on;
    status.textContent = on ? "Concilia sta scrivendo…" : "";
  }

  function ask(body, shown) {
    if (busy) return;
    if (shown) bubble("me", shown);
    setBusy(true);
    fetch("api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (data) {
        if (res.ok && data && data.replies) {
          started = true;
          expiredShown = false;
          showReplies(data.replies);
        } else {
          bubble("bot error", (data && data.error) || "Qualcosa non ha funzionato. Riprova tra poco.");
        }
      });
    }).catch(function () {
      bubble("bot error", "Non riesco a collegarmi. Controlla la connessione e riprova.");
    }).then(function () {
      setBusy(false);
    });
  }

  function poll() {
    if (polling || !started || document.hidden) return;
    polling = true;
    fetch("api/chat/updates?after=" + after, { cache: "no-store" })
      .then(function (res) {
        if (res.status === 401) {
          started = false;  // the session expired: the next message starts a new one
          return res.json().catch(function () { return null; }).then(function (data) {
            if (!expiredShown && data && data.error) bubble("bot error", data.error);
            expiredShown = true;
            return null;
          });
        }
        return res.ok ? res.json() : null;
      })
      .then(function (data) {
        if (!data || !data.replies) return;
        if (data.replies.length) showReplies(data.replies, "bot pushed");
        if (typeof data.last === "number" && data.last > after) {
          after = data.last;
          try { localStorage.setItem(AFTER_KEY, String(after)); } catch (e) { /* kept for this visit */ }
        }
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { polling = false; });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    ask({ text: text }, text);
    input.focus();
  });

  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  document.getElementById("privacy").addEventListener("click", function () {
    ask({ text: "/privacy" }, "Privacy");
  });

  // "Nuova conversazione": for a shared computer. The server forgets the session and the cookie goes;
  // the page starts again as for a new visitor.
  document.getElementById("restart").addEventListener("click", function () {
    if (busy) return;
    setBusy(true);
    fetch("api/chat/session", { method: "DELETE" })
      .catch(function () { /* offline: the cookie stays, the server forgets it when it expires */ })
      .then(function () {
        started = false;
        expiredShown = false;
        after = 0;
        try { localStorage.removeItem(AFTER_KEY); } catch (e) { /* nothing kept */ }
        while (log.firstChild) log.removeChild(log.firstChild);
        setBusy(false);
        ask({ text: "/start" }, null);
        input.focus();
      });
  });

  ask({ text: "/start" }, null);
  setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", poll);
})();
