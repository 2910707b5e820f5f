// Live progress of a send: server-sent events from /runs/<id>/events, twice a second.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box || !window.EventSource) { return; }
  var source = new EventSource(box.getAttribute("data-events"));
  function text(id, value) { document.getElementById(id).textContent = value; }
  source.onmessage = function (event) {
    var s = JSON.parse(event.data);
    var bar = document.getElementById("bar");
    bar.max = s.total || 1;
    bar.value = s.done;
    text("done", s.done);
    text("total", s.total);
    text("amount", s.amount || "—");
    text("states", Object.keys(s.states).map(function (k) { return k + " " + s.states[k]; }).join(", "));
    text("phase", s.phase);
    var error = document.getElementById("send-error");
    error.hidden = !s.error;
    error.textContent = s.error;
    var notes = document.getElementById("notes");
    notes.textContent = "";
    s.notes.forEach(function (n) { var li = document.createElement("li"); li.textContent = n; notes.appendChild(li); });
    if (s.finished) { source.close(); }
  };
  source.onerror = function () { source.close(); };
})();
