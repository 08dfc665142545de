// The live page: follows /ui/live/stream and adds each committed event as the
// table's first row. Text goes in through textContent only, never as markup.
(function () {
  "use strict";
  var table = document.getElementById("live");
  var body = table.tBodies[0];
  var status = document.getElementById("status");
  var lagged = document.getElementById("lagged");
  var pauseButton = document.getElementById("pause");
  var MAX_ROWS = 200;
  var paused = false;
  var held = [];

  function cell(row, text, className) {
    var td = row.insertCell(-1);
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function duration(ms) {
    if (typeof ms !== "number" || !isFinite(ms) || ms < 0) return "—";
    if (ms < 10) return ms.toFixed(1) + " ms";
    if (ms < 1000) return Math.round(ms) + " ms";
    return (ms / 1000).toFixed(2) + " s";
  }

  function tokens(metadata) {
    var m = metadata || {};
    var total = m.total_tokens;
    if (typeof total !== "number") total = (m.prompt_tokens || 0) + (m.completion_tokens || 0);
    return total > 0 ? String(total) : "—";
  }

  function show(event) {
    var row = body.insertRow(0);
    row.dataset.eventId = event.event_id || "";
    if (event.error) row.className = "failed";
    var start = typeof event.start_time === "number" ? new Date(event.start_time) : null;
    cell(row, start ? start.toISOString().replace("T", " ").slice(0, 19) : "");
    cell(row, event.event_type || "");
    cell(row, event.event_name || "(unnamed)", "name");
    cell(row, duration(event.duration), "num");
    cell(row, tokens(event.metadata), "num");
    var session = cell(row, "");
    if (event.session_id) {
      var link = document.createElement("a");
      link.href = "/ui/sessions/" + encodeURIComponent(event.session_id);
      link.textContent = event.session_id.slice(0, 8);
      session.appendChild(link);
    }
    cell(row, event.error || "", "error");
    while (body.rows.length > MAX_ROWS) body.deleteRow(-1);
  }

  function received(message) {
    var event;
    try { event = JSON.parse(message.data); } catch (e) { return; }
    if (paused) {
      // Only the newest MAX_ROWS could be shown on resume; older ones are dropped now.
      held.push(event);
      if (held.length > MAX_ROWS) held.shift();
      table.dataset.held = String(held.length);
    } else {
      show(event);
    }
  }

  pauseButton.addEventListener("click", function () {
    paused = !paused;
    pauseButton.textContent = paused ? "Resume" : "Pause";
    if (!paused) {
      held.forEach(show);
      held = [];
      table.dataset.held = "0";
    }
    status.textContent = paused ? "paused" : "live";
  });

  var source = new EventSource(table.dataset.stream);
  source.addEventListener("ready", function () {
    table.dataset.state = "open";
    status.textContent = paused ? "paused" : "live";
  });
  source.addEventListener("created", received);
  source.addEventListener("updated", received);
  source.addEventListener("lagged", function (message) {
    var notice = {};
    try { notice = JSON.parse(message.data); } catch (e) { /* a notice without a count */ }
    lagged.hidden = false;
    lagged.textContent = "Missed " + (notice.missed || "some") + " events: this page read too slowly.";
  });
  source.onerror = function () {
    table.dataset.state = "reconnecting";
    status.textContent = "reconnecting…";
  };
})();
