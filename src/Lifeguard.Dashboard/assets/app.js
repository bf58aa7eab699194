// The Lifeguard dashboard's page. Everything it shows comes from the server as JSON and is put in the page with
// textContent, never as HTML: worker output, function names and pool names are data, not markup. Every URL is
// relative, so the page works under whatever prefix the dashboard is mapped at.
(function () {
  "use strict";

  const WINDOW_SECONDS = 5 * 60;   // the charts' span
  const MAX_LOG_ROWS = 500;        // rows kept in the event log table
  const TOKEN_KEY = "lifeguard.actionToken";

  const pools = new Map();         // name -> view
  const seenLog = new Set();       // log entry ids already shown
  let actionsAllowed = false;
  let lastEventId = null;
  let source = null;

  const $ = (selector, root) => (root || document).querySelector(selector);

  function setText(element, text) {
    const value = text === null || text === undefined ? "" : String(text);
    if (element.textContent !== value) {
      element.textContent = value;
    }
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) {
      e.className = className;
    }
    if (text !== undefined) {
      e.textContent = text;
    }
    return e;
  }

  // ---- formatting -------------------------------------------------------------------------------------------

  function duration(seconds) {
    if (seconds === null || seconds === undefined) {
      return "";
    }
    if (seconds < 1) {
      return (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 0) + " ms";
    }
    if (seconds < 60) {
      return seconds.toFixed(1) + " s";
    }
    const m = Math.floor(seconds / 60);
    if (m < 60) {
      return m + "m " + Math.floor(seconds % 60) + "s";
    }
    return Math.floor(m / 60) + "h " + (m % 60) + "m";
  }

  function bytes(value) {
    if (value === null || value === undefined) {
      return "–";
    }
    return (value / (1024 * 1024)).toFixed(1) + " MiB";
  }

  function rate(value) {
    return value >= 10 ? value.toFixed(0) : value.toFixed(2);
  }

  function clock(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour12: false });
  }

  // ---- charts -----------------------------------------------------------------------------------------------

  const COLORS = { a: "#2563eb", b: "#f59e0b", c: "#dc2626", idle: "#93c5fd", busy: "#2563eb", starting: "#a3e635", stopping: "#f87171" };

  function chartOptions(width, series, extra) {
    return Object.assign({
      width: width,
      height: 150,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [{ stroke: "#6b7280", grid: { stroke: "#e5e7eb" } }, { stroke: "#6b7280", grid: { stroke: "#e5e7eb" }, size: 50 }],
      series: [{}].concat(series),
    }, extra || {});
  }

  function line(label, color) {
    return { label: label, stroke: color, width: 1.5, spanGaps: false, value: (u, v) => (v === null || v === undefined ? "–" : v.toFixed(2)) };
  }

  // Stacked areas: each series is drawn as the running total from the bottom, largest first so smaller ones
  // paint over it; the legend shows each state's own count.
  function stacked(label, color, raw) {
    return { label: label, stroke: color, fill: color + "cc", width: 1, points: { show: false }, value: (u, v, si, i) => (i === null || raw[i] === undefined ? "–" : String(raw[i])) };
  }

  function createCharts(view) {
    if (typeof uPlot === "undefined") {
      return;
    }
    const width = Math.max(240, $(".plot-calls", view.root).clientWidth || 300);
    const d = view.data;
    view.plots = [
      new uPlot(chartOptions(width, [line("calls/s", COLORS.a)]), [d.t, d.calls], $(".plot-calls", view.root)),
      new uPlot(chartOptions(width, [line("p50", COLORS.a), line("p95", COLORS.b), line("p99", COLORS.c)]), [d.t, d.w50, d.w95, d.w99], $(".plot-wait", view.root)),
      new uPlot(chartOptions(width, [line("p50", COLORS.a), line("p95", COLORS.b), line("p99", COLORS.c)]), [d.t, d.l50, d.l95, d.l99], $(".plot-lease", view.root)),
      new uPlot(chartOptions(width, [
        stacked("stopping", COLORS.stopping, d.stopping),
        stacked("starting", COLORS.starting, d.starting),
        stacked("busy", COLORS.busy, d.busy),
        stacked("idle", COLORS.idle, d.idle),
      ], { scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } } }), stackedData(d), $(".plot-workers", view.root)),
    ];
  }

  function stackedData(d) {
    const idle = d.idle;
    const busy = idle.map((v, i) => v + d.busy[i]);
    const starting = busy.map((v, i) => v + d.starting[i]);
    const stopping = starting.map((v, i) => v + d.stopping[i]);
    return [d.t, stopping, starting, busy, idle];
  }

  function ms(p) {
    return p ? p * 1000 : null;
  }

  function record(view, time, pool) {
    const d = view.data;
    const r = pool.rates;
    d.t.push(time);
    d.calls.push(r ? r.callsPerSecond : null);
    d.w50.push(r && r.waitSeconds ? ms(r.waitSeconds.p50) : null);
    d.w95.push(r && r.waitSeconds ? ms(r.waitSeconds.p95) : null);
    d.w99.push(r && r.waitSeconds ? ms(r.waitSeconds.p99) : null);
    d.l50.push(r && r.leaseSeconds ? ms(r.leaseSeconds.p50) : null);
    d.l95.push(r && r.leaseSeconds ? ms(r.leaseSeconds.p95) : null);
    d.l99.push(r && r.leaseSeconds ? ms(r.leaseSeconds.p99) : null);
    d.idle.push(pool.idle);
    d.busy.push(pool.busy);
    d.starting.push(pool.starting);
    d.stopping.push(pool.stopping);
    while (d.t.length > 0 && d.t[0] < time - WINDOW_SECONDS) {
      Object.keys(d).forEach((k) => d[k].shift());
    }
    if (view.plots) {
      view.plots[0].setData([d.t, d.calls]);
      view.plots[1].setData([d.t, d.w50, d.w95, d.w99]);
      view.plots[2].setData([d.t, d.l50, d.l95, d.l99]);
      view.plots[3].setData(stackedData(d));
    }
  }

  window.addEventListener("resize", () => {
    pools.forEach((view) => {
      if (view.plots) {
        const width = Math.max(240, $(".plot-calls", view.root).clientWidth);
        view.plots.forEach((p) => p.setSize({ width: width, height: 150 }));
      }
    });
  });

  // ---- pools and workers ------------------------------------------------------------------------------------

  function poolView(name) {
    let view = pools.get(name);
    if (view) {
      return view;
    }
    const root = $("#pool-template").content.firstElementChild.cloneNode(true);
    root.dataset.pool = name;
    setText($(".pool-name", root), name);
    const view2 = {
      root: root,
      rows: new Map(),
      plots: null,
      sizeEdited: false,
      data: { t: [], calls: [], w50: [], w95: [], w99: [], l50: [], l95: [], l99: [], idle: [], busy: [], starting: [], stopping: [] },
    };
    $(".resize-size", root).addEventListener("input", () => { view2.sizeEdited = true; });
    $(".resize-overflow", root).addEventListener("input", () => { view2.sizeEdited = true; });
    $(".resize", root).addEventListener("click", () => resize(view2, name));
    $(".recycle", root).addEventListener("click", () => act(view2, "api/pools/" + encodeURIComponent(name) + "/recycle", null, "recycle"));
    insertSorted($("#registry"), root, name);
    pools.set(name, view2);
    createCharts(view2);
    return view2;
  }

  function insertSorted(parent, node, name) {
    const after = Array.from(parent.querySelectorAll(":scope > .pool")).find((p) => p.dataset.pool > name);
    parent.insertBefore(node, after || null);
  }

  function renderPool(view, pool) {
    const root = view.root;
    const state = $(".pool-state", root);
    setText(state, pool.state);
    state.className = "badge pool-state state-" + pool.state;
    ["size", "maxOverflow", "idle", "busy", "starting", "stopping", "overflow", "waiters", "totalRestarts", "totalDeaths"].forEach((k) => setText($(".c-" + k, root), pool[k]));
    setText($(".sizing", root), sizingLine(pool.sizing));
    $(".sizing", root).title = pool.sizing ? pool.sizing.explanation : "";
    // A remote pool (its rows are hosts) is sized and recycled by its hosts, not from here.
    $(".actions", root).hidden = !actionsAllowed || pool.workers.some((w) => typeof w.host === "string");
    $(".action-column", root).hidden = !actionsAllowed;
    if (!view.sizeEdited) {
      $(".resize-size", root).value = pool.size;
      $(".resize-overflow", root).value = pool.maxOverflow;
    }
    renderWorkers(view, pool);
  }

  function sizingLine(s) {
    if (!s) {
      return "Little's Law: measuring (after a second of load with a lease sampled).";
    }
    return "Little's Law: λ = " + rate(s.arrivalRate) + "/s, W = " + duration(s.meanLeaseSeconds) + ", L = λ·W = " + s.meanBusy.toFixed(2) +
      " busy (peak " + rate(s.peakRate) + "/s over " + duration(s.windowSeconds) + ") → advised Size " + s.advisedSize + ", MaxOverflow " + s.advisedMaxOverflow;
  }

  function renderWorkers(view, pool) {
    const tbody = $("table.workers > tbody", view.root);
    const live = new Set();
    pool.workers.forEach((w) => {
      live.add(w.id);
      let row = view.rows.get(w.id);
      if (!row) {
        row = workerRow(view, pool.name, w.id);
        view.rows.set(w.id, row);
        const after = Array.from(tbody.children).find((r) => Number(r.dataset.workerId) > w.id);
        tbody.insertBefore(row.tr, after || null);
      }
      row.tr.className = "worker state-" + w.state + (w.retirePending ? " retiring" : "");
      setText(row.id, w.host === null || w.host === undefined ? w.id : w.id + " · " + w.host);
      setText(row.state, w.state + (w.retirePending ? " (retiring)" : ""));
      setText(row.slot, w.slot);
      setText(row.generation, w.generation);
      row.generation.classList.toggle("old-generation", w.generation !== pool.generation);
      setText(row.pid, w.pid === null ? "–" : w.pid);
      setText(row.uses, w.uses);
      setText(row.age, duration(w.ageSeconds));
      setText(row.rss, bytes(w.rssBytes));
      setText(row.callName, w.call ? w.call.function : "");
      setText(row.callElapsed, w.call ? duration(w.call.elapsedSeconds) : "");
      const tail = w.outputTail.join("\n");
      if (row.tail.textContent !== tail) {
        row.tail.textContent = tail;
        row.tail.scrollTop = row.tail.scrollHeight; // the newest lines in view
      }
      // A remote pool's rows are hosts: only the host itself can kill its workers.
      row.killCell.hidden = !actionsAllowed || typeof w.host === "string";
      row.tr.title = typeof w.host === "string" ? "host " + w.host + " serving this remote pool" : "";
    });
    view.rows.forEach((row, id) => {
      if (!live.has(id)) {
        row.tr.remove();
        view.rows.delete(id);
      }
    });
  }

  function workerRow(view, poolName, id) {
    const tr = el("tr", "worker");
    tr.dataset.workerId = String(id);
    const cells = ["w-id", "w-slot", "w-generation", "w-state", "w-pid", "w-uses", "w-age", "w-rss", "w-call", "w-output"].map((c) => {
      const td = el("td", c);
      tr.appendChild(td);
      return td;
    });
    const callName = el("code", "w-call-name");
    const callElapsed = el("span", "w-call-elapsed muted");
    cells[8].append(callName, " ", callElapsed);
    const tail = el("pre", "w-tail");
    cells[9].appendChild(tail);
    const killCell = el("td", "w-actions");
    const kill = el("button", "w-kill", "kill");
    kill.type = "button";
    kill.title = "Kill this worker; the pool starts a replacement";
    kill.addEventListener("click", () => act(view, "api/pools/" + encodeURIComponent(poolName) + "/workers/" + id + "/kill", null, "kill worker " + id));
    killCell.appendChild(kill);
    tr.appendChild(killCell);
    return { tr: tr, id: cells[0], slot: cells[1], generation: cells[2], state: cells[3], pid: cells[4], uses: cells[5], age: cells[6], rss: cells[7], callName: callName, callElapsed: callElapsed, tail: tail, killCell: killCell };
  }

  function renderSnapshot(snapshot) {
    actionsAllowed = snapshot.actions === true;
    $("#token-box").hidden = !actionsAllowed;
    const time = Date.parse(snapshot.time) / 1000;
    setText($("#updated"), "updated " + clock(snapshot.time));
    const names = new Set();
    snapshot.pools.forEach((pool) => {
      names.add(pool.name);
      const view = poolView(pool.name);
      renderPool(view, pool);
      record(view, time, pool);
    });
    pools.forEach((view, name) => {
      if (!names.has(name)) {
        if (view.plots) {
          view.plots.forEach((p) => p.destroy());
        }
        view.root.remove();
        pools.delete(name);
      }
    });
    $("#no-pools").hidden = names.size > 0;
  }

  // ---- actions ----------------------------------------------------------------------------------------------

  function resize(view, name) {
    const size = Number($(".resize-size", view.root).value);
    const maxOverflow = Number($(".resize-overflow", view.root).value);
    act(view, "api/pools/" + encodeURIComponent(name) + "/resize", { size: size, maxOverflow: maxOverflow }, "resize").then((ok) => {
      if (ok) {
        view.sizeEdited = false;
      }
    });
  }

  async function act(view, url, body, what) {
    const message = $(".action-message", view.root);
    setText(message, what + "…");
    message.className = "action-message";
    const headers = { "X-Lifeguard-Token": $("#token").value };
    if (body) {
      headers["Content-Type"] = "application/json";
    }
    try {
      const response = await fetch(url, { method: "POST", headers: headers, body: body ? JSON.stringify(body) : "", credentials: "same-origin", cache: "no-store" });
      let detail = "";
      try {
        const json = await response.json();
        detail = json.detail || json.result || "";
      } catch (e) {
        detail = "";
      }
      setText(message, what + ": " + response.status + " " + (response.ok ? "done" : response.statusText) + (detail ? " — " + detail : ""));
      message.className = "action-message " + (response.ok ? "ok" : "failed");
      return response.ok;
    } catch (e) {
      setText(message, what + ": failed — " + e);
      message.className = "action-message failed";
      return false;
    }
  }

  // ---- the event log ----------------------------------------------------------------------------------------

  function addLog(entry) {
    if (seenLog.has(entry.id)) {
      return;
    }
    seenLog.add(entry.id);
    const tbody = $("#log tbody");
    const tr = el("tr", "log-entry kind-" + entry.kind);
    tr.dataset.kind = entry.kind;
    tr.dataset.id = String(entry.id);
    const detail = entry.detail + (entry.source ? " [" + entry.source + "]" : "");
    [clock(entry.time), entry.pool || "", entry.workerId === null ? "" : entry.workerId, entry.pid === null ? "" : entry.pid, entry.kind, detail]
      .forEach((text, i) => tr.appendChild(el("td", ["l-time", "l-pool", "l-worker", "l-pid", "l-kind", "l-detail"][i], String(text))));
    if (entry.outputTail && entry.outputTail.length > 0) {
      const pre = el("pre", "l-tail");
      pre.textContent = entry.outputTail.join("\n");
      tr.lastChild.appendChild(pre);
    }
    tbody.insertBefore(tr, tbody.firstChild);
    while (tbody.children.length > MAX_LOG_ROWS) {
      const last = tbody.lastChild;
      seenLog.delete(Number(last.dataset.id));
      last.remove();
    }
  }

  // ---- the stream -------------------------------------------------------------------------------------------

  function setConnection(state) {
    const c = $("#connection");
    setText(c, state);
    c.className = "connection " + state;
  }

  function connect() {
    // A new EventSource does not send Last-Event-ID; the query carries it instead, so nothing logged is missed.
    const url = lastEventId === null ? "events" : "events?lastEventId=" + encodeURIComponent(lastEventId);
    source = new EventSource(url);
    source.onopen = () => setConnection("live");
    source.addEventListener("snapshot", (e) => {
      lastEventId = e.lastEventId || lastEventId;
      renderSnapshot(JSON.parse(e.data));
    });
    source.addEventListener("log", (e) => {
      lastEventId = e.lastEventId || lastEventId;
      addLog(JSON.parse(e.data));
    });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an HTTP error): try again in a moment with a new EventSource.
        setConnection("offline");
        source = null;
        setTimeout(connect, 2000);
      } else {
        // The stream ended or broke: the browser reconnects by itself, sending Last-Event-ID.
        setConnection("reconnecting");
      }
    };
  }

  function start() {
    const token = $("#token");
    token.value = sessionStorage.getItem(TOKEN_KEY) || "";
    token.addEventListener("input", () => sessionStorage.setItem(TOKEN_KEY, token.value));
    fetch("api/snapshot", { cache: "no-store" }).then((r) => (r.ok ? r.json() : null)).then((s) => {
      if (s && pools.size === 0) {
        renderSnapshot(s);
      }
    }).catch(() => { /* the stream brings the next one */ });
    connect();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
