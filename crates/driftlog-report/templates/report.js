// Sorting and filtering; the page is complete without it.
(function () {
  "use strict";
  function text(el) { return (el.getAttribute("data-sort") || el.textContent || "").trim(); }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, col) {
      th.classList.add("sortable");
      th.title = "Sort";
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var dir = th.getAttribute("data-dir") === "asc" ? -1 : 1;
        table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("data-dir"); });
        th.setAttribute("data-dir", dir === 1 ? "asc" : "desc");
        rows.sort(function (a, b) {
          var x = text(a.cells[col]), y = text(b.cells[col]);
          var nx = parseFloat(x), ny = parseFloat(y);
          if (!isNaN(nx) && !isNaN(ny) && String(nx) === x && String(ny) === y) { return (nx - ny) * dir; }
          return x.localeCompare(y) * dir;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var search = document.getElementById("filter");
  var only = document.getElementById("only-bad");
  function apply() {
    var q = search ? search.value.toLowerCase() : "";
    var bad = only ? only.checked : false;
    var shown = 0;
    document.querySelectorAll("[data-search]").forEach(function (el) {
      var hit = el.getAttribute("data-search").toLowerCase().indexOf(q) !== -1;
      if (bad && el.getAttribute("data-bad") !== "1") { hit = false; }
      el.classList.toggle("hidden", !hit);
      if (hit) { shown += 1; }
    });
    var count = document.getElementById("shown");
    if (count) { count.textContent = shown + " shown"; }
  }
  if (search) { search.addEventListener("input", apply); }
  if (only) { only.addEventListener("change", apply); }
  apply();
})();
