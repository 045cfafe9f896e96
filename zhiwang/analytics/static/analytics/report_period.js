/* The report form's period: the server sends one menu with a group of recent months and a group of
 * recent quarters (it works alone, without this file). Here the month / quarter choice above it is
 * shown, and the menu keeps only the chosen kind's group: switching keeps a period of that kind if
 * one was chosen, else takes the kind's newest complete period (data-default). What is posted is
 * still the menu's value ("2026-10", "2026-Q3"). */
(function () {
  "use strict";

  function enhance(select) {
    if (select.dataset.enhanced) { return; }
    var kinds = select.form && select.form.querySelector("[data-period-kinds]");
    if (!kinds) { return; }
    select.dataset.enhanced = "1";
    var groups = {};
    Array.prototype.forEach.call(select.querySelectorAll("optgroup[data-kind]"), function (g) {
      groups[g.dataset.kind] = g;
    });

    function show(kind) {
      var group = groups[kind];
      if (!group) { return; }
      var current = select.value;
      Object.keys(groups).forEach(function (k) {
        if (k !== kind && groups[k].parentNode === select) { select.removeChild(groups[k]); }
      });
      if (group.parentNode !== select) { select.appendChild(group); }
      var kept = Array.prototype.some.call(group.querySelectorAll("option"), function (o) { return o.value === current; });
      select.value = kept ? current : group.dataset.default;
    }

    Array.prototype.forEach.call(kinds.querySelectorAll("input[type=radio]"), function (radio) {
      radio.addEventListener("change", function () { if (radio.checked) { show(radio.value); } });
    });
    kinds.hidden = false;
    var checked = kinds.querySelector("input[type=radio]:checked");
    show(checked ? checked.value : "month");
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("select[data-period-menu]"), enhance);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
