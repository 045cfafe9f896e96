/* Dashboard charts (ECharts) and the map (Leaflet), offline; every point clicks through to its tickets. */
(function () {
  "use strict";
  function json(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; }
  function go(link) { if (link) { window.location.href = link; } }
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
    });
  }

  function chart(id, option, links) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) { return null; }
    var c = window.echarts.init(el, null, { renderer: "canvas" });
    c.setOption(option);
    c.on("click", function (p) { go(links(p)); });
    window.addEventListener("resize", function () { c.resize(); });
    return c;
  }

  // Axis labels never overprint one another in either language: horizontal bars keep each name on
  // its own line (cut with "…" past 150 px; the tooltip has it whole); vertical bars break a name
  // over lines within its own slot. The grid makes room for the labels (containLabel).
  function slotWidth(id, count) {
    var el = document.getElementById(id);
    var width = el ? el.clientWidth : 320;
    return Math.max(48, Math.floor((width - 60) / Math.max(count, 1)) - 8);
  }

  function categoryAxis(id, names, horizontal) {
    return horizontal
      ? { type: "category", data: names, inverse: true, axisLabel: { interval: 0, width: 150, overflow: "truncate" } }
      : { type: "category", data: names, axisLabel: { interval: 0, width: slotWidth(id, names.length), overflow: "break", lineHeight: 14 } };
  }

  function bars(id, rows, horizontal) {
    var names = rows.map(function (r) { return r.name; });
    var values = rows.map(function (r) { return r.value; });
    var cat = categoryAxis(id, names, horizontal);
    var val = { type: "value", minInterval: 1 };
    chart(id, {
      tooltip: {}, grid: { left: 10, right: 24, top: 10, bottom: 10, containLabel: true },
      xAxis: horizontal ? val : cat, yAxis: horizontal ? cat : val,
      series: [{ type: "bar", data: values }]
    }, function (p) { return rows[p.dataIndex] && rows[p.dataIndex].link; });
  }

  function init() {
    var data = json("analytics-data");
    var labels = json("analytics-labels") || {};
    if (!data) { return; }
    var t = data.trend;
    var trendRows = json("analytics-trend") || [];
    var series = ["received", "closed", "overdue"];
    // a week the period cuts (its first or last) counts fewer days: its label says so, lest its lower
    // counts read as a drop; straight lines (a smoothed curve dips below 0 between a 0 and a peak)
    var partial = labels.partial || "(partial)";
    var periods = t.map(function (r) { return r.partial ? r.period + "\n" + partial : r.period; });
    chart("chart-trend", {
      // a compact legend that wraps above the plot (never over it) when the names are long
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var row = t[(items[0] || {}).dataIndex] || {};
          var lines = [esc(row.period) + (row.partial ? " " + esc(partial) : "")];
          items.forEach(function (p) { lines.push(p.marker + esc(p.seriesName) + " " + esc(p.value)); });
          if (row.partial && labels.partial_note) { lines.push("<small>" + esc(labels.partial_note) + "</small>"); }
          return lines.join("<br>");
        }
      },
      legend: { top: 0, itemWidth: 14, itemHeight: 8, itemGap: 8, textStyle: { fontSize: 11 } },
      grid: { left: 10, right: 24, top: 46, bottom: 10, containLabel: true },
      xAxis: { type: "category", data: periods },
      yAxis: { type: "value", min: 0, minInterval: 1 },
      series: series.map(function (k) {
        return {
          id: k, name: labels[k] || k, type: "line", smooth: false,
          // a partial week's point is hollow and larger: marked on the line, not only on the axis
          data: t.map(function (r) {
            return r.partial ? { value: r[k], symbol: "emptyDiamond", symbolSize: 9 } : r[k];
          })
        };
      })
    }, function (p) {
      // each series opens its own tickets: a "closed" point the tickets closed that day, not those received
      var key = p.seriesId || series[p.seriesIndex];
      var row = t[p.dataIndex] || {};
      var links = row.links || (trendRows[p.dataIndex] || {}).links || {};
      return links[key] || null;
    });
    var o = data.open;
    chart("chart-open", {
      tooltip: {}, grid: { left: 10, right: 24, top: 10, bottom: 10, containLabel: true },
      xAxis: categoryAxis("chart-open", [labels.open, labels.overdue_open], false), yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: [o.open, { value: o.overdue_open, itemStyle: { color: "#b42318" } }] }]
    }, function (p) { return p.dataIndex === 0 ? o.links.open : o.links.overdue_open; });
    // the kinds' names (long in English) are in a legend below the pie, wrapping onto more lines as
    // needed, each with its share; a slice says its share inside the ring (an outside label was cut
    // at the edge of a phone's narrow chart: "3..."); none on slivers, whose share is in the legend
    var total = data.kinds.reduce(function (sum, r) { return sum + (r.value || 0); }, 0);
    var share = {};
    data.kinds.forEach(function (r) { share[r.name] = total ? Math.round((100 * r.value) / total) : 0; });
    chart("chart-kinds", {
      tooltip: { trigger: "item", formatter: function (p) { return esc(p.name) + ": " + esc(p.value) + " (" + Math.round(p.percent) + "%)"; } },
      legend: {
        bottom: 0, left: "center", itemWidth: 12, itemHeight: 10, itemGap: 8, textStyle: { fontSize: 11 },
        formatter: function (name) { return name + " " + (share[name] || 0) + "%"; }
      },
      series: [{
        type: "pie", radius: ["24%", "52%"], center: ["50%", "38%"], minShowLabelAngle: 18,
        label: {
          position: "inside", fontSize: 11, color: "#fff", textBorderColor: "rgba(0,0,0,.5)", textBorderWidth: 2,
          formatter: function (p) { return Math.round(p.percent) + "%"; }
        },
        labelLine: { show: false },
        data: data.kinds.map(function (r) { return { name: r.name, value: r.value }; })
      }]
    }, function (p) { return data.kinds[p.dataIndex] && data.kinds[p.dataIndex].link; });
    bars("chart-channels", data.channels, true);
    bars("chart-categories", data.categories, true);
    map(data.children);
  }

  // Choropleth classes: a few stepped colours read better than a continuous shade, and the legend
  // can name each step's range. Steps are equal parts of the largest count, rounded up to whole
  // tickets, and merged where rounding makes two the same (a place with 3 tickets gets 3 steps).
  // Five clearly different colours (light yellow to dark red) drawn nearly opaque, and the legend's
  // swatches drawn the same: a fill three-quarters opaque over the grey map made neighbouring
  // classes look alike, and unlike their swatches.
  var PALETTE = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
  var ZERO = "#f2f4f7";
  var FILL_OPACITY = 0.9;

  function classBreaks(max) {
    var upper = [];
    for (var i = 1; i <= PALETTE.length; i += 1) {
      var u = Math.ceil((max * i) / PALETTE.length);
      if (u >= 1 && upper.indexOf(u) < 0) { upper.push(u); }
    }
    return upper;
  }

  function colourOf(value, upper) {
    if (!value) { return ZERO; }
    for (var i = 0; i < upper.length; i += 1) {
      if (value <= upper[i]) { return PALETTE[PALETTE.length - upper.length + i]; }
    }
    return PALETTE[PALETTE.length - 1];
  }

  // The legend is a <details>: open on a wide screen, folded to its title on a phone (it covered
  // most of a 390 px map), opened with a tap.
  function legend(el, upper) {
    var box = document.createElement("details");
    box.className = "map-legend";
    box.setAttribute("data-testid", "map-legend");
    var narrow = window.matchMedia && window.matchMedia("(max-width: 700px)").matches;
    if (!narrow) { box.open = true; }
    var title = document.createElement("summary");
    title.textContent = el.dataset.legendTitle || "";
    box.appendChild(title);
    var rows = document.createElement("div");
    rows.className = "map-legend-rows";
    box.appendChild(rows);
    function row(colour, text) {
      var line = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = colour;
      swatch.style.opacity = String(FILL_OPACITY);
      swatch.setAttribute("data-colour", colour);
      line.appendChild(swatch);
      line.appendChild(document.createTextNode(text));
      rows.appendChild(line);
    }
    row(ZERO, "0");
    var low = 1;
    upper.forEach(function (u) {
      row(colourOf(u, upper), low === u ? String(u) : low + "–" + u);
      low = u + 1;
    });
    if (el.dataset.legendNote) {
      var note = document.createElement("small");
      note.textContent = el.dataset.legendNote;
      box.appendChild(note);
    }
    var control = window.L.control({ position: "bottomright" });
    control.onAdd = function () {
      // a tap on the legend opens it, and must not click the place under it
      window.L.DomEvent.disableClickPropagation(box);
      window.L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    return control;
  }

  function map(children) {
    var el = document.getElementById("map");
    var geo = json("analytics-geometry");
    if (!el || !window.L || !geo || !geo.features.length) { if (el) { el.style.display = "none"; } return; }
    var byCode = {}; var max = 0;
    // the unlocated row has no polygon and must not set the colour scale
    children.forEach(function (c) { if (c.unlocated) { return; } byCode[c.code] = c; max = Math.max(max, c.received); });
    var upper = classBreaks(max);
    var m = window.L.map(el, { attributionControl: false, zoomControl: false });
    // Leaflet's zoom buttons say "Zoom in" / "Zoom out" whatever the page's language: a template may
    // pass translated words (data-zoom-in / data-zoom-out on #map); otherwise <html lang> picks them.
    var zh = /^zh/i.test(document.documentElement.lang || "");
    window.L.control.zoom({
      zoomInTitle: el.dataset.zoomIn || (zh ? "放大" : "Zoom in"),
      zoomOutTitle: el.dataset.zoomOut || (zh ? "缩小" : "Zoom out")
    }).addTo(m);
    var tiles = document.querySelector('meta[name="zhiwang-map-tiles"]');
    if (tiles && tiles.content) { window.L.tileLayer(tiles.content, { maxZoom: 19 }).addTo(m); }
    var layer = window.L.geoJSON(geo, {
      style: function (f) {
        var c = byCode[f.properties.code];
        return { color: "#1f4e79", weight: 1, fillColor: colourOf(c ? c.received : 0, upper), fillOpacity: FILL_OPACITY };
      },
      onEachFeature: function (f, lyr) {
        var c = byCode[f.properties.code];
        // Leaflet puts a tooltip's string in as HTML: escape the name (imported boundaries)
        lyr.bindTooltip(esc(f.properties.name + (c ? (el.dataset.tooltipSeparator || ": ") + c.received : "")));
        // a grid has no dashboard of its own: its click lists the tickets it received in the window
        lyr.on("click", function () { if (c) { go(c.drill || (c.links && c.links.received)); } });
      }
    }).addTo(m);
    legend(el, upper).addTo(m);
    m.fitBounds(layer.getBounds());
    el.setAttribute("data-ready", "1");
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
