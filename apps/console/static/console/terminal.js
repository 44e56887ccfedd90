/* The web terminal of a pod page (templates/console/terminal/pod.html): xterm.js on the
 * portal's exec websocket (apps/terminal/exec.py). Output arrives as binary frames; control
 * messages as JSON text ({type: opened|ping|exit|error}). Input and resizes go out as JSON.
 * After a close the Connect button offers to reconnect (a new session, re-authorized). */
(function () {
  "use strict";

  function start() {
    const box = document.getElementById("terminal");
    const form = document.getElementById("terminal-form");
    if (!box || !form) return;
    const status = document.getElementById("terminal-status");
    const button = document.getElementById("terminal-connect");
    const msg = box.dataset;
    const TerminalClass = window.Terminal && (window.Terminal.Terminal || window.Terminal);
    const FitClass = window.FitAddon && (window.FitAddon.FitAddon || window.FitAddon);
    const term = new TerminalClass({ cursorBlink: true, convertEol: false, fontSize: 14 });
    const fit = new FitClass();
    term.loadAddon(fit);
    term.open(box);
    fit.fit();
    let socket = null;

    function say(text, link) {
      status.textContent = text;
      if (link) {
        const a = document.createElement("a");
        a.href = link;
        a.textContent = " " + msg.msgReauth;
        a.id = "terminal-reauth-link";
        status.appendChild(a);
      }
    }

    function send(payload) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(payload));
    }

    term.onData(function (data) { send({ type: "stdin", data: data }); });
    term.onResize(function (size) { send({ type: "resize", cols: size.cols, rows: size.rows }); });
    window.addEventListener("resize", function () { fit.fit(); });

    function connect() {
      if (socket && socket.readyState <= WebSocket.OPEN) return;
      const query = new URLSearchParams();
      query.set("container", form.elements.container.value);
      form.elements.command.value.trim().split(/\s+/).filter(Boolean).forEach(function (word) {
        query.append("command", word);
      });
      query.set("tty", "true");
      query.set("cols", String(term.cols));
      query.set("rows", String(term.rows));
      query.set("next", window.location.pathname + window.location.search);
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      const url = scheme + "//" + window.location.host + box.dataset.socket + "?" + query.toString();
      let ended = false;
      term.reset();
      say(msg.msgConnecting);
      button.disabled = true;
      socket = new WebSocket(url, ["tke.terminal.v1"]);
      socket.binaryType = "arraybuffer";
      socket.onmessage = function (event) {
        if (typeof event.data !== "string") {
          term.write(new Uint8Array(event.data));
          return;
        }
        let control;
        try { control = JSON.parse(event.data); } catch (e) { return; }
        if (control.type === "opened") {
          say(msg.msgConnected);
          box.dataset.session = String(control.session);
          term.focus();
        } else if (control.type === "exit") {
          ended = true;
          const code = control.code === null || control.code === undefined ? null : control.code;
          const text = code === null ? msg.msgNoExit : msg.msgExit + " " + code;
          say(text + (control.reason ? " (" + control.reason + ")" : ""));
          box.dataset.exit = code === null ? "" : String(code);
        } else if (control.type === "error") {
          ended = true;
          say(msg.msgRefused + " " + control.message, control.reauth_url);
        }
      };
      socket.onclose = function () {
        if (!ended) say(msg.msgLost);
        button.textContent = msg.msgReconnect;
        button.disabled = false;
        box.dataset.closed = "1";
      };
      socket.onopen = function () { delete box.dataset.closed; };
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      connect();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
