/* Layout helpers for small screens (static/css/app.css, "phone"):
   - the Menu button opens and closes the header's navigation;
   - every data table's cells carry their column's heading as data-label, which a phone shows
     in front of each value when it lays the rows out as cards. */
(function () {
  "use strict";

  function headings(table) {
    var labels = [];
    var head = table.tHead && table.tHead.rows[0];
    if (!head) return labels;
    Array.prototype.forEach.call(head.cells, function (cell) {
      var text = cell.textContent.replace(/[▲▼]/g, "").replace(/\s+/g, " ").trim();
      for (var i = 0; i < (cell.colSpan || 1); i++) labels.push(text);
    });
    return labels;
  }

  function labelCells(root) {
    root.querySelectorAll("table").forEach(function (table) {
      var labels = headings(table);
      if (!labels.length) return;
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          var column = 0;
          Array.prototype.forEach.call(row.cells, function (cell) {
            var label = cell.colSpan > 1 ? "" : labels[column];
            if (label && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", label);
            column += cell.colSpan || 1;
          });
        });
      });
    });
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("[data-nav-toggle]");
    if (!toggle) return;
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  document.addEventListener("DOMContentLoaded", function () { labelCells(document); });
  document.addEventListener("htmx:afterSettle", function () { labelCells(document); });
})();
