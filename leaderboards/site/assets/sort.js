// mebench leaderboard: sortable tables in a few lines of vanilla JS (no CDN, no dependency).
// A <table class="sortable"> sorts when a header with data-key is clicked (again: reverse). Numeric columns
// (data-type="num") sort by each cell's data-sort-value; empty values always go last.
// data-sort-default="KEY:desc" sorts a table on load; "#sort=TABLE_ID:KEY:asc" in the URL overrides it.
// A sorted table gets data-sorted="KEY:DIR" and its header aria-sort, so the order shown is always stated.
(function () {
  "use strict";
  function value(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell ? (cell.getAttribute("data-sort-value") || cell.textContent) : "";
    if (numeric) { var v = parseFloat(raw); return isNaN(v) ? null : v; }
    raw = raw.trim().toLowerCase();
    return raw === "" || raw === "-" ? null : raw;
  }
  function sortTable(table, key, dir) {
    var headers = table.tHead.rows[0].cells, index = -1;
    for (var i = 0; i < headers.length; i++) if (headers[i].getAttribute("data-key") === key) index = i;
    if (index < 0 || !table.tBodies.length) return false;
    var numeric = headers[index].getAttribute("data-type") === "num";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (r, n) { return [r, n]; });
    rows.sort(function (a, b) {
      var x = value(a[0], index, numeric), y = value(b[0], index, numeric);
      if (x === null || y === null) return (x === null) - (y === null) || a[1] - b[1];
      var c = x < y ? -1 : x > y ? 1 : 0;
      return (dir === "asc" ? c : -c) || a[1] - b[1];
    });
    rows.forEach(function (r) { body.appendChild(r[0]); });
    for (var j = 0; j < headers.length; j++) headers[j].removeAttribute("aria-sort");
    headers[index].setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
    table.setAttribute("data-sorted", key + ":" + dir);
    return true;
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
        var key = th.getAttribute("data-key");
        if (!key) return;
        th.tabIndex = 0;
        th.title = "sort by this column";
        var toggle = function () {
          sortTable(table, key, table.getAttribute("data-sorted") === key + ":desc" ? "asc" : "desc");
        };
        th.addEventListener("click", toggle);
        th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); } });
      });
      var def = (table.getAttribute("data-sort-default") || "").split(":");
      if (def.length === 2) sortTable(table, def[0], def[1]);
    });
    var m = /^#sort=([^:]+):([^:]+):(asc|desc)$/.exec(decodeURIComponent(window.location.hash || ""));
    if (m) { var t = document.getElementById(m[1]); if (t) sortTable(t, m[2], m[3]); }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
