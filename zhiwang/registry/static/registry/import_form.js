// The import wizard: offer only the mapping templates of the chosen record kind, and choose the
// first of them when the one chosen is for another kind. The server checks the pair anyway
// (ImportForm.clean); without this script every template is listed.
(function () {
  "use strict";
  var kind = document.getElementById("id_kind");
  var template = document.getElementById("id_template");
  if (!kind || !template) return;
  function sync() {
    var chosen = template.options[template.selectedIndex];
    var first = null;
    Array.prototype.forEach.call(template.options, function (option) {
      var other = option.dataset.kind && option.dataset.kind !== kind.value;
      option.hidden = option.disabled = Boolean(other);
      if (!other && option.value && first === null) first = option;
    });
    if (!chosen || chosen.disabled || !chosen.value) template.value = first ? first.value : "";
  }
  kind.addEventListener("change", sync);
  sync();
})();
