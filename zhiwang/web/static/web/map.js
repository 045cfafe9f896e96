/* Division / grid map: GeoJSON from the page, Leaflet from the installed package, no tiles unless configured. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) { return; }
  function read(id) { var n = document.getElementById(id); return n ? JSON.parse(n.textContent) : null; }
  // Leaflet puts a tooltip's string in as HTML: names come from imports and the admin, so escape them.
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
    });
  }
  var cfg = window.ZHIWANG_MAP || {};
  // Leaflet's zoom buttons say "Zoom in" / "Zoom out" (title and aria-label) whatever the page's
  // language: a template may pass translated words (data-zoom-in / data-zoom-out on the map
  // element); otherwise the page's <html lang> picks them.
  function zoomControl(el) {
    var zh = /^zh/i.test(document.documentElement.lang || "");
    return L.control.zoom({
      zoomInTitle: el.dataset.zoomIn || (zh ? "放大" : "Zoom in"),
      zoomOutTitle: el.dataset.zoomOut || (zh ? "缩小" : "Zoom out")
    });
  }
  var map = L.map(el, {attributionControl: false, zoomControl: false, zoomSnap: 0.25});
  zoomControl(el).addTo(map);
  if (cfg.tileUrl) { L.tileLayer(cfg.tileUrl, {maxZoom: 19}).addTo(map); }
  var palette = ["#2f6fb0", "#3a9a6a", "#c77c2e", "#8b5fb3", "#b04a4a", "#2a8f9a", "#a08a2a", "#5a6f8f"];
  // Layers are built first and added after the view is set: Leaflet's renderer needs a view.
  var layers = [];
  var bounds = null;
  var outline = read("map-outline");
  if (outline && outline.features.length) {
    var o = L.geoJSON(outline, {style: {color: "#333", weight: 2, fill: false, dashArray: "4 4"}});
    layers.push(o);
    bounds = o.getBounds();
  }
  var features = read("map-features");
  if (features && features.features.length) {
    var i = 0;
    var layer = L.geoJSON(features, {
      style: function () { var c = palette[i++ % palette.length]; return {color: c, weight: 1.5, fillColor: c, fillOpacity: 0.25}; },
      onEachFeature: function (f, l) {
        var p = f.properties;
        var url = (p.kind === "grid" ? cfg.gridUrl : cfg.divisionUrl).replace("CODE", p.code);
        l.bindTooltip(esc(p.name + " · " + p.code), {sticky: true});
        l.on("click", function () { window.location.href = url; });
      }
    });
    layers.push(layer);
    bounds = bounds ? bounds.extend(layer.getBounds()) : layer.getBounds();
  }
  var points = read("map-points");
  if (points) {
    points.forEach(function (p) { layers.push(L.circleMarker([p.lat, p.lon], {radius: 5, color: "#b04a4a"}).bindTooltip(esc(p.name))); });
  }
  if (bounds && bounds.isValid()) { map.fitBounds(bounds, {padding: [10, 10]}); } else { map.setView([22.6, 114.05], 10); }
  layers.forEach(function (l) { l.addTo(map); });
  el.setAttribute("data-ready", "1");
})();
