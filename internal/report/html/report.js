// shipshape report: sorting and filtering of tables, and opening every
// <details> for printing. The page is complete without this script.
(function () {
  "use strict";
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };

  each(document.querySelectorAll("[data-tools]"), function (el) { el.hidden = false; });

  // A filter box narrows the rows of the tables its data-filter selects:
  // every whitespace-separated term must occur in a row's text.
  each(document.querySelectorAll("input[data-filter]"), function (input) {
    var tables = document.querySelectorAll(input.getAttribute("data-filter"));
    var out = document.getElementById(input.getAttribute("data-count"));
    var rows = [];
    each(tables, function (t) { each(t.tBodies[0].rows, function (r) { rows.push(r); }); });
    var text = rows.map(function (r) { return r.textContent.toLowerCase(); });
    var saved = null; // the <details> states before filtering began
    var apply = function () {
      var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (r, i) {
        var ok = terms.every(function (t) { return text[i].indexOf(t) >= 0; });
        r.hidden = !ok;
        if (ok) { shown++; }
      });
      each(tables, function (t, i) {
        var d = t.closest("details");
        if (!d) { return; }
        if (terms.length) {
          if (!saved) { saved = Array.prototype.map.call(tables, function (u) { var e = u.closest("details"); return e && e.open; }); }
          d.open = t.querySelector("tbody tr:not([hidden])") !== null;
        } else if (saved) {
          d.open = saved[i];
        }
      });
      if (!terms.length) { saved = null; }
      if (out) { out.textContent = shown + " of " + rows.length + " shown"; }
    };
    input.addEventListener("input", apply);
    apply();
  });

  // Sortable tables: each header becomes a button; data-type="num" sorts
  // numbers (a cell's data-v when it has one), data-first the first order.
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  each(document.querySelectorAll("table.sortable"), function (table) {
    var ths = table.tHead.rows[0].cells;
    each(ths, function (th, col) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "sort";
      while (th.firstChild) { b.appendChild(th.firstChild); }
      th.appendChild(b);
      b.addEventListener("click", function () {
        var cur = th.getAttribute("aria-sort");
        var dir = cur ? (cur === "ascending" ? "descending" : "ascending") : (th.getAttribute("data-first") || "ascending");
        each(ths, function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        var num = th.getAttribute("data-type") === "num";
        var body = table.tBodies[0];
        var keyed = Array.prototype.map.call(body.rows, function (r, i) {
          var c = r.cells[col];
          var v = c && c.hasAttribute("data-v") ? c.getAttribute("data-v") : (c ? c.textContent.trim() : "");
          return { k: num ? (parseFloat(v) || 0) : v, i: i, r: r };
        });
        keyed.sort(function (x, y) {
          var c = num ? x.k - y.k : collator.compare(x.k, y.k);
          if (dir === "descending") { c = -c; }
          return c || x.i - y.i;
        });
        var frag = document.createDocumentFragment();
        keyed.forEach(function (x) { frag.appendChild(x.r); });
        body.appendChild(frag);
      });
    });
  });

  // Print everything: open the closed <details> and close them after.
  var opened = [];
  window.addEventListener("beforeprint", function () {
    each(document.querySelectorAll("details:not([open])"), function (d) { d.open = true; opened.push(d); });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });
}());
