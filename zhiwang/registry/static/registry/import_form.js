// The import wizard: offer only the mapping templates of the chosen record kind, and choose the
// first of them when the one chosen is for another kind; show the headers of the chosen template
// only (registry/_template_guides.html). The server checks the pair anyway (ImportForm.clean);
// without this script every template, and every template's headers, are listed.
(function () {
  "use strict";
  var kind = document.getElementById("id_kind");
  var template = document.getElementById("id_template");
  if (!kind || !template) return;
  var guides = document.querySelectorAll("[data-template-guide]");
  function showGuide() {
    Array.prototype.forEach.call(guides, function (guide) {
      guide.hidden = guide.dataset.templateGuide !== template.value;
    });
  }
  function sync() {
    var chosen = template.options[template.selectedIndex];
    var first = null;
    Array.prototype.forEach.call(template.options, function (option) {
      var other = option.dataset.kind && option.dataset.kind !== kind.value;
      option.hidden = option.disabled = Boolean(other);
      if (!other && option.value && first === null) first = option;
    });
    if (!chosen || chosen.disabled || !chosen.value) template.value = first ? first.value : "";
    showGuide();
  }
  kind.addEventListener("change", sync);
  template.addEventListener("change", showGuide);
  sync();
})();
