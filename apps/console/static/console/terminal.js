/* The web terminal of a pod page (templates/console/terminal/pod.html) and of a node's shell
 * (node.html): xterm.js on the portal's exec websocket (apps/terminal/exec.py, nodeshell.py).
 * Output arrives as binary frames; control messages as JSON text
 * ({type: starting|opened|ping|exit|error}). Input and resizes go out as JSON.
 * After a close the Connect button offers to reconnect (a new session, re-authorized). */
(function () {
  "use strict";

  function start() {
    const box = document.getElementById("terminal");
    const form = document.getElementById("terminal-form");
    if (!box || !form || !window.Terminal) return;
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
      // (the node shell's page has neither: its command is fixed)
      if (form.elements.container) query.set("container", form.elements.container.value);
      if (form.elements.command) {
        form.elements.command.value.trim().split(/\s+/).filter(Boolean).forEach(function (word) {
          query.append("command", word);
        });
      }
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
        if (control.type === "starting") {
          say(msg.msgStarting + " " + control.pod + "…");
        } else if (control.type === "opened") {
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

  /* Live logs (templates/console/terminal/logs.html) of a pod or of a workload's pods: lines
   * arrive as {type: "log", lines}, a {type: "dropped", count} marker says how many the server
   * dropped for a slow (or paused) browser, a {type: "notice", message} says a stream ended,
   * waits or was left out; the page keeps the newest MAX_LINES lines. */
  const MAX_LINES = 5000;

  function startLogs() {
    const pre = document.getElementById("logs");
    const form = document.getElementById("logs-form");
    if (!pre || !form) return;
    const msg = pre.dataset;
    const status = document.getElementById("logs-status");
    const follow = document.getElementById("logs-follow");
    const pause = document.getElementById("logs-pause");
    let socket = null;
    let paused = false;

    const podFilter = document.getElementById("logs-pod");  // a workload's page only
    const wrap = document.getElementById("logs-wrap");
    const search = document.getElementById("logs-search");
    const download = document.getElementById("logs-download");

    function highlight(line) {
      const needle = search.value;
      const hit = needle !== "" && line.textContent.indexOf(needle) !== -1;
      line.classList.toggle("bg-warning-subtle", hit);
      line.classList.toggle("log-hit", hit);
    }

    /* A workload's lines (and notices) start with [pod/container]: the pod filter shows one
     * pod's; pods that start while following join the filter's list. */
    function podOf(text) {
      const found = /^\[([^\]\/]+)[\/\]]/.exec(text);
      return found ? found[1] : "";
    }

    function filterLine(line) {
      const wanted = podFilter ? podFilter.value : "";
      line.hidden = wanted !== "" && line.dataset.pod !== wanted;
    }

    function knowPod(pod) {
      if (!podFilter || !pod) return;
      const known = Array.prototype.some.call(podFilter.options, function (o) { return o.value === pod; });
      if (known) return;
      const option = document.createElement("option");
      option.value = pod;
      option.textContent = pod;
      podFilter.appendChild(option);
    }

    if (podFilter) {
      podFilter.addEventListener("change", function () {
        pre.querySelectorAll("span").forEach(filterLine);
      });
    }

    wrap.addEventListener("change", function () {
      pre.style.whiteSpace = wrap.checked ? "pre-wrap" : "pre";
    });
    search.addEventListener("input", function () {
      pre.querySelectorAll("span").forEach(highlight);
    });
    download.addEventListener("click", function () {
      const shown = Array.prototype.filter.call(pre.childNodes, function (n) { return !n.hidden; });
      const text = shown.map(function (n) { return n.textContent; }).join("");
      const blob = new Blob([text], { type: "text/plain" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = pre.dataset.file;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    });

    function add(text, marker) {
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      const line = document.createElement("span");
      line.textContent = text + "\n";
      if (marker) {
        line.className = "fw-bold text-warning-emphasis log-" + marker;
      } else {
        highlight(line);
      }
      const pod = podFilter ? podOf(text) : "";
      if (pod) {
        line.dataset.pod = pod;
        knowPod(pod);
      }
      filterLine(line);
      pre.appendChild(line);
      while (pre.childNodes.length > MAX_LINES) pre.removeChild(pre.firstChild);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }

    function send(payload) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(payload));
    }

    pause.addEventListener("click", function () {
      paused = !paused;
      send({ type: paused ? "pause" : "resume" });
      pause.textContent = paused ? msg.msgResume : msg.msgPause;
      pause.setAttribute("aria-pressed", paused ? "true" : "false");
      status.textContent = paused ? msg.msgPaused : msg.msgFollowing;
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (socket && socket.readyState <= WebSocket.OPEN) socket.close();
      const query = new URLSearchParams();
      query.set("container", form.elements.container.value);
      if (form.elements.tailLines.value !== "") query.set("tailLines", form.elements.tailLines.value);
      if (form.elements.sinceSeconds.value !== "") query.set("sinceSeconds", form.elements.sinceSeconds.value);
      if (form.elements.timestamps.checked) query.set("timestamps", "true");
      if (form.elements.previous.checked) query.set("previous", "true");
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      const url = scheme + "//" + window.location.host + pre.dataset.socket + "?" + query.toString();
      pre.textContent = "";
      paused = false;
      pause.textContent = msg.msgPause;
      let ended = false;
      const current = new WebSocket(url, ["tke.terminal.v1"]);
      socket = current;
      current.onopen = function () {
        status.textContent = msg.msgFollowing;
        pause.disabled = false;
        pre.dataset.following = "1";
      };
      current.onmessage = function (event) {
        let control;
        try { control = JSON.parse(event.data); } catch (e) { return; }
        if (control.type === "log") {
          control.lines.forEach(function (text) { add(text, ""); });
        } else if (control.type === "dropped") {
          add("[… " + control.count + " " + msg.msgDropped + " …]", "dropped");
        } else if (control.type === "notice") {
          add(control.message, "notice");
        } else if (control.type === "end") {
          ended = true;
          status.textContent = msg.msgEnded + " " + control.reason;
        } else if (control.type === "error") {
          ended = true;
          status.textContent = msg.msgRefused + " " + control.message;
        }
      };
      current.onclose = function () {
        if (socket !== current) return;
        if (!ended) status.textContent = msg.msgLost;
        pause.disabled = true;
        delete pre.dataset.following;
      };
    });
  }

  /* A recorded session's replay (templates/console/terminal/session.html). */
  function startPlayer() {
    const box = document.getElementById("cast-player");
    if (!box || !window.AsciinemaPlayer) return;
    window.AsciinemaPlayer.create(box.dataset.cast, box, { fit: "width", idleTimeLimit: 2 });
    box.dataset.ready = "1";
  }

  function startAll() {
    if (document.getElementById("terminal")) start();
    startLogs();
    startPlayer();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
