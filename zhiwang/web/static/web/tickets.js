/* Ticket pages: small enhancements over plain forms. Every page works without this file.
 * - category picker: area select + search over the grouped <select>
 * - handling-unit picker: a filter box (name, code, district) over the grouped unit <select>
 * - map pin picker (Leaflet from the installed package; tiles only if configured)
 * - point map on the ticket page
 * - suggestion chips fill the category; "tick all" in the queue; Ctrl+Enter submits
 * - htmx: swap 4xx answers too, so refusals and conflicts show where the user acted; but never a
 *   "signed out" (401) or "page expired" (CSRF 403) answer: a notice in the panel instead
 * - the CSRF token is read from its cookie when sent, so signing in again elsewhere keeps the page working
 */
(function () {
  "use strict";

  var tileUrl = (document.querySelector("meta[name='zhiwang-map-tiles']") || {}).content || "";

  function readJSON(id) {
    var node = id && document.getElementById(id);
    if (!node) { return null; }
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function fire(el, name) { el.dispatchEvent(new Event(name, {bubbles: true})); }

  // Leaflet puts a tooltip's string in as HTML (as map.js says): a point's name is a standard
  // address or what somebody typed, so escape it.
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
    });
  }

  // --- category picker ------------------------------------------------------------------------
  function enhanceCategory(select) {
    if (select.dataset.enhanced) { return; }
    select.dataset.enhanced = "1";
    var groups = [];
    Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (g) {
      var top = g.label.split(" / ")[0];
      groups.push({label: g.label, top: top, options: Array.prototype.map.call(g.querySelectorAll("option"), function (o) {
        return {value: o.value, text: o.textContent};
      })});
    });
    if (!groups.length) { return; }
    var placeholder = select.querySelector("option[value='']");
    var placeholderText = placeholder ? placeholder.textContent : "";
    var tops = [];
    groups.forEach(function (g) { if (tops.indexOf(g.top) < 0) { tops.push(g.top); } });

    var tools = document.createElement("div");
    tools.className = "category-tools";
    var area = document.createElement("select");
    area.setAttribute("aria-label", select.dataset.areaLabel || "Area");
    var all = document.createElement("option");
    all.value = ""; all.textContent = select.dataset.allAreas || "—";
    area.appendChild(all);
    tops.forEach(function (t) { var o = document.createElement("option"); o.value = t; o.textContent = t; area.appendChild(o); });
    var search = document.createElement("input");
    search.type = "search";
    search.placeholder = select.dataset.searchLabel || "Search";
    search.setAttribute("aria-label", select.dataset.searchLabel || "Search");
    tools.appendChild(area); tools.appendChild(search);
    select.parentNode.insertBefore(tools, select);

    function rebuild() {
      var current = select.value, q = search.value.trim(), shown = 0, only = null;
      while (select.firstChild) { select.removeChild(select.firstChild); }
      var ph = document.createElement("option"); ph.value = ""; ph.textContent = placeholderText; select.appendChild(ph);
      groups.forEach(function (g) {
        if (area.value && g.top !== area.value) { return; }
        var matching = g.options.filter(function (o) {
          return !q || o.text.indexOf(q) >= 0 || g.label.indexOf(q) >= 0 || o.value === current;
        });
        if (!matching.length) { return; }
        var og = document.createElement("optgroup"); og.label = g.label;
        matching.forEach(function (o) {
          var opt = document.createElement("option"); opt.value = o.value; opt.textContent = o.text;
          og.appendChild(opt); shown++; only = o.value;
        });
        select.appendChild(og);
      });
      if (current) { select.value = current; }
      if (q && shown === 1 && select.value !== only) { select.value = only; fire(select, "change"); }
    }
    area.addEventListener("change", rebuild);
    search.addEventListener("input", rebuild);
    select._zhiwangPick = function (code) {
      area.value = ""; search.value = ""; rebuild(); select.value = code; fire(select, "change");
    };
  }

  // --- handling-unit picker -------------------------------------------------------------------
  // The server sends a grouped <select> (the suggested unit ★ first, then by district) that works
  // alone; this adds a labelled filter box above it. Typing keeps the options whose name, code or
  // group matches, and never chooses one: a unit is chosen in the select, or by Enter or ↓ in the
  // box (the first match, if the chosen one is not a match), which then moves to the select and
  // never submits. When the chosen unit is not among the matches the select goes back to its
  // first option (the placeholder, or the bulk bar's "each ticket's suggested unit"): what the
  // closed select shows is what a dispatch sends. Esc clears the box. A live region says how many
  // units match. While an input method composes (pinyin "ur" on the way to a word) nothing is
  // filtered: the box filters when the composition ends.
  var unitPickers = 0;

  function enhanceUnit(select) {
    if (select.dataset.enhanced) { return; }
    select.dataset.enhanced = "1";
    var fixed = [], groups = [];
    Array.prototype.forEach.call(select.children, function (node) {
      if (node.tagName === "OPTGROUP") {
        groups.push({label: node.label, options: Array.prototype.map.call(node.querySelectorAll("option"), function (o) {
          return {value: o.value, text: o.textContent, code: o.dataset.code || ""};
        })});
      } else if (node.tagName === "OPTION") {
        fixed.push({value: node.value, text: node.textContent});
      }
    });
    if (!groups.length) { return; }

    unitPickers += 1;
    if (!select.id) { select.id = "unit-picker-" + unitPickers; }
    var box = document.createElement("div");
    box.className = "unit-picker";
    var row = document.createElement("div");
    row.className = "unit-filter";
    var label = document.createElement("label");
    var input = document.createElement("input");
    input.type = "search";
    input.id = select.id + "-filter";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.placeholder = select.dataset.filterPlaceholder || "";
    input.setAttribute("aria-controls", select.id);
    input.setAttribute("data-unit-filter", "1");
    label.htmlFor = input.id;
    label.textContent = select.dataset.filterLabel || "Filter";
    var status = document.createElement("span");
    status.id = select.id + "-filter-status";
    status.className = "hint unit-filter-status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    input.setAttribute("aria-describedby", status.id);
    row.appendChild(label); row.appendChild(input); row.appendChild(status);
    select.parentNode.insertBefore(box, select);
    box.appendChild(row);
    box.appendChild(select);

    function option(o) {
      var opt = document.createElement("option");
      opt.value = o.value; opt.textContent = o.text;
      if (o.code) { opt.dataset.code = o.code; }
      return opt;
    }

    var first = fixed.length ? fixed[0].value : null, isFixed = {};
    fixed.forEach(function (o) { isFixed[o.value] = true; });
    var matched = {}, firstMatch = null;
    function rebuild() {
      var current = select.value, q = input.value.trim().toLowerCase(), count = 0;
      matched = {}; firstMatch = null;
      while (select.firstChild) { select.removeChild(select.firstChild); }
      fixed.forEach(function (o) { select.appendChild(option(o)); });
      groups.forEach(function (g) {
        var wholeGroup = !q || g.label.toLowerCase().indexOf(q) >= 0;
        var shown = g.options.filter(function (o) {
          var hit = wholeGroup || o.text.toLowerCase().indexOf(q) >= 0 || o.code.toLowerCase().indexOf(q) >= 0;
          if (hit) {
            matched[o.value] = true; count += 1;
            if (firstMatch === null) { firstMatch = o.value; }
          }
          return hit;
        });
        if (!shown.length) { return; }
        var og = document.createElement("optgroup"); og.label = g.label;
        shown.forEach(function (o) { og.appendChild(option(o)); });
        select.appendChild(og);
      });
      if (isFixed[current] || matched[current]) {
        select.value = current;
      } else {
        // the chosen unit is filtered out: show (and send) the first option, not a hidden choice
        if (first !== null) { select.value = first; } else { select.selectedIndex = -1; }
        fire(select, "change");
      }
      var words = "";
      if (q) { words = count ? (select.dataset.filterCount || "%(count)s").replace("%(count)s", count) : (select.dataset.filterNone || "0"); }
      if (status.textContent !== words) { status.textContent = words; }
    }
    input.addEventListener("input", function (e) {
      if (e.isComposing) { return; }  // an input method is still composing: wait for its word
      rebuild();
    });
    input.addEventListener("compositionend", rebuild);
    input.addEventListener("keydown", function (e) {
      if (e.isComposing || e.keyCode === 229) { return; }  // Enter confirms the input method's word
      if ((e.key === "Enter" && !e.ctrlKey && !e.metaKey) || e.key === "ArrowDown") {
        e.preventDefault();  // Enter here never submits the form: a dispatch is sent from its button
        if (input.value.trim() && firstMatch !== null && !matched[select.value]) {
          select.value = firstMatch; fire(select, "change");
        }
        select.focus();
      } else if (e.key === "Escape" && input.value) {
        e.preventDefault();
        input.value = ""; rebuild();
      }
    });
  }

  // --- maps ---------------------------------------------------------------------------------
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

  function baseMap(el) {
    var map = L.map(el, {attributionControl: false, zoomControl: false, zoomSnap: 0.25});
    zoomControl(el).addTo(map);
    if (tileUrl) { L.tileLayer(tileUrl, {maxZoom: 19}).addTo(map); }
    return map;
  }

  function pinPicker(box) {
    if (box.dataset.enhanced || !window.L) { return; }
    box.dataset.enhanced = "1";
    var el = box.querySelector(".map");
    var lon = document.getElementById(box.dataset.lon), lat = document.getElementById(box.dataset.lat);
    if (!el || !lon || !lat) { return; }
    var map = baseMap(el);
    var outline = readJSON(box.dataset.features);
    var layer = null;
    if (outline && outline.features && outline.features.length) {
      layer = L.geoJSON(outline, {style: {color: "#2f6fb0", weight: 1.5, fillOpacity: 0.08}});
    }
    if (layer) { map.fitBounds(layer.getBounds(), {padding: [10, 10]}); layer.addTo(map); } else { map.setView([22.58, 113.98], 11); }
    var marker = null;
    function place(latlng, fromInputs) {
      if (marker) { marker.setLatLng(latlng); } else { marker = L.circleMarker(latlng, {radius: 8, color: "#b3261e", weight: 3, fillOpacity: 0.6}).addTo(map); }
      if (!fromInputs) {
        lon.value = latlng.lng.toFixed(6); lat.value = latlng.lat.toFixed(6);
        fire(lon, "change"); fire(lat, "change");
      }
    }
    map.on("click", function (e) { place(e.latlng, false); });
    function fromInputs() {
      var x = parseFloat(lon.value), y = parseFloat(lat.value);
      if (isFinite(x) && isFinite(y)) { place(L.latLng(y, x), true); map.panTo([y, x]); }
    }
    lon.addEventListener("input", fromInputs); lat.addEventListener("input", fromInputs);
    fromInputs();
    var me = box.querySelector("[data-locate-me]");
    if (me) {
      if (!navigator.geolocation) { me.hidden = true; }
      me.addEventListener("click", function () {
        navigator.geolocation.getCurrentPosition(function (p) {
          var ll = L.latLng(p.coords.latitude, p.coords.longitude); place(ll, false); map.setView(ll, 16);
        });
      });
    }
    var clear = box.querySelector("[data-clear-pin]");
    if (clear) {
      clear.addEventListener("click", function () {
        if (marker) { map.removeLayer(marker); marker = null; }
        lon.value = ""; lat.value = ""; fire(lon, "change"); fire(lat, "change");
      });
    }
    // A map inside a closed <details> has no size until it opens.
    var details = box.closest("details");
    if (details) { details.addEventListener("toggle", function () { map.invalidateSize(); fromInputs(); }); }
    el.setAttribute("data-ready", "1");
  }

  function pointMap(el) {
    if (el.dataset.enhanced || !window.L) { return; }
    el.dataset.enhanced = "1";
    var map = baseMap(el);
    var outline = readJSON(el.dataset.outline), points = readJSON(el.dataset.points) || [];
    var bounds = null, layers = [];
    if (outline && outline.features && outline.features.length) {
      var o = L.geoJSON(outline, {style: {color: "#2f6fb0", weight: 1.5, fillOpacity: 0.1}});
      layers.push(o); bounds = o.getBounds();
    }
    points.forEach(function (p) {
      layers.push(L.circleMarker([p.lat, p.lon], {radius: 8, color: "#b3261e", weight: 3, fillOpacity: 0.6}).bindTooltip(esc(p.name)));
      bounds = bounds ? bounds.extend([p.lat, p.lon]) : L.latLngBounds([[p.lat, p.lon], [p.lat, p.lon]]);
    });
    if (bounds && bounds.isValid()) { map.fitBounds(bounds.pad(0.3), {maxZoom: 17}); } else { map.setView([22.58, 113.98], 11); }
    layers.forEach(function (l) { l.addTo(map); });
    el.setAttribute("data-ready", "1");
  }

  // --- one-time wiring per swapped piece of page -----------------------------------------------
  function init(root) {
    root = root || document;
    Array.prototype.forEach.call(root.querySelectorAll("select[data-category-picker]"), enhanceCategory);
    Array.prototype.forEach.call(root.querySelectorAll("select[data-unit-picker]"), enhanceUnit);
    Array.prototype.forEach.call(root.querySelectorAll("[data-map-picker]"), pinPicker);
    Array.prototype.forEach.call(root.querySelectorAll("[data-point-map]"), pointMap);
  }

  // Delegated listeners are bound once for the whole document (they survive htmx swaps).
  if (!window.zhiwangTicketsBound) {
    window.zhiwangTicketsBound = true;
    document.addEventListener("click", function (e) {
      var chip = e.target.closest && e.target.closest("[data-pick-category]");
      if (chip) {
        var form = chip.closest("form");
        var select = form && form.querySelector("select[name$='category']");
        if (select) {
          if (select._zhiwangPick) { select._zhiwangPick(chip.dataset.pickCategory); } else { select.value = chip.dataset.pickCategory; fire(select, "change"); }
          Array.prototype.forEach.call(form.querySelectorAll("[data-pick-category]"), function (c) { c.classList.toggle("picked", c === chip); });
        }
      }
    });
    document.addEventListener("change", function (e) {
      var all = e.target.closest && e.target.closest("[data-check-all]");
      if (all) {
        var form = all.closest("form");
        Array.prototype.forEach.call(form.querySelectorAll("input[type=checkbox][name='" + all.dataset.checkAll + "']"), function (box) { box.checked = all.checked; });
      }
    });
    // a plain form post of this page sends the CSRF cookie's token (see bindSessionGuards)
    document.addEventListener("submit", function (e) {
      var field = e.target && e.target.elements && e.target.elements[CSRF_FIELD], fresh = csrfCookie();
      if (field && field.value !== undefined && fresh) { field.value = fresh; }
    }, true);
    document.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        var form = e.target.closest && e.target.closest("form[data-submit-shortcut]");
        if (form) { e.preventDefault(); form.requestSubmit(form.querySelector("button[type=submit]")); }
      }
    });
  }

  // --- a session that ended, a page that went stale ----------------------------------------------
  // Panels load as the user types (htmx). Two answers are never swapped into one; the server marks
  // them (zhiwang.web.tickets.access.signed_out, zhiwang.web.views.csrf_failure): 401 "signed-out"
  // (htmx would otherwise draw the sign-in page in the panel, and its form would post to this
  // page) and 403 "csrf" (this page's CSRF token is no longer the session's). The panel says so
  // in one line, role="alert" (the words: data-notice-* on an element around it, translated by
  // the template; the page's language picks a fallback), and the form keeps what was typed.
  // Signing in again (in another tab) rotates the CSRF token. Its cookie holds the new one (the
  // unmasked secret Django accepts from a form): every htmx request and every posted form of this
  // page sends the cookie's token, so the page works on after a sign-in elsewhere, without a
  // reload. Only with no readable cookie does a panel say the page expired.
  var CSRF_COOKIE = "csrftoken", CSRF_FIELD = "csrfmiddlewaretoken";
  var NOTICES = {
    "signed-out": {attr: "data-notice-signed-out",
      zh: "登录已过期：请在新标签页中重新登录，再回到本页继续（已填写的内容仍在）。",
      en: "Your sign-in has expired: sign in again in a new tab, then come back to this page (what you typed is still here)."},
    "csrf": {attr: "data-notice-expired",
      zh: "页面已过期：请先复制已填写的内容，再刷新页面继续。",
      en: "This page has expired: copy what you typed, then reload the page to continue."}
  };

  function csrfCookie() {
    var found = "";
    (document.cookie || "").split(";").forEach(function (part) {
      var i = part.indexOf("=");
      if (i > 0 && part.slice(0, i).trim() === CSRF_COOKIE) {
        try { found = decodeURIComponent(part.slice(i + 1).trim()); } catch (e) { found = ""; }
      }
    });
    return /^[A-Za-z0-9]{32}$|^[A-Za-z0-9]{64}$/.test(found) ? found : "";
  }

  function refusal(xhr) {
    if (xhr.status === 401) { return "signed-out"; }
    if (xhr.status === 403 && xhr.getResponseHeader("Zhiwang-Refusal") === "csrf") { return "csrf"; }
    return "";
  }

  function showNotice(panel, kind) {
    var words = NOTICES[kind], holder = panel.closest("[" + words.attr + "]");
    var text = (holder && holder.getAttribute(words.attr)) || (/^zh/i.test(document.documentElement.lang || "") ? words.zh : words.en);
    var note = panel.querySelector("[data-panel-notice]");
    if (!note) {
      note = document.createElement("p");
      note.className = "panel-notice";
      note.setAttribute("role", "alert");
      note.setAttribute("data-testid", "panel-notice");
      panel.insertBefore(note, panel.firstChild);
    }
    note.setAttribute("data-panel-notice", kind);
    if (note.textContent !== text) { note.textContent = text; }
    // what the panel showed before belongs to earlier typing (another number, another text):
    // dimmed until the next answer replaces it
    panel.classList.add("panel-stale");
  }

  // What a panel ([data-panel]) sent last, without the token: leaving the phone field (change)
  // after its pause in typing (input) already loaded the panel for that number sends nothing.
  function sentKey(formData) {
    var parts = [];
    formData.forEach(function (value, name) { if (name !== CSRF_FIELD) { parts.push(name + "=" + value); } });
    return parts.join("&");
  }

  function bindSessionGuards() {
    document.body.addEventListener("htmx:configRequest", function (e) {
      var data = e.detail.formData, elt = e.detail.elt, fresh = csrfCookie();
      if (!data) { return; }
      if (fresh && data.has(CSRF_FIELD)) { data.set(CSRF_FIELD, fresh); }
      if (elt && elt.hasAttribute && elt.hasAttribute("data-panel")) {
        var key = sentKey(data);
        if (elt._zhiwangSent === key) { e.preventDefault(); return; }
        elt._zhiwangSent = key;
      }
    });
    document.body.addEventListener("htmx:beforeSwap", function (e) {
      var kind = refusal(e.detail.xhr);
      if (!kind) { return; }
      e.detail.shouldSwap = false;
      e.detail.isError = false;  // answered here, in the panel
      if (e.detail.elt) { e.detail.elt._zhiwangSent = null; }  // the same text may be sent again
      showNotice(e.detail.target || e.detail.elt, kind);
    });
    document.body.addEventListener("htmx:afterSwap", function (e) {
      var target = e.detail.target;
      if (target && target.classList) { target.classList.remove("panel-stale"); }
    });
    ["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach(function (name) {
      document.body.addEventListener(name, function (e) { if (e.detail.elt) { e.detail.elt._zhiwangSent = null; } });
    });
  }

  // A link to "…#act-supervise" names a <details> (an action panel) the server renders closed (it
  // never sees the fragment): open it, and the closed <details> around it, and bring it into view.
  function openFromHash(root) {
    var id = decodeURIComponent((window.location.hash || "").slice(1));
    var target = id && document.getElementById(id);
    if (!target || (root && root !== document && !root.contains(target))) { return; }
    for (var el = target; el; el = el.parentElement) {
      if (el.tagName === "DETAILS" && !el.open) { el.open = true; }
    }
    target.scrollIntoView({block: "start"});
  }

  function start() {
    init(document);
    openFromHash(document);
    window.addEventListener("hashchange", function () { openFromHash(document); });
    if (window.htmx) {
      // Refusals (403), conflicts (409) and form errors come back as whole pages: show them.
      htmx.config.responseHandling = [
        {code: "204", swap: false},
        {code: "[23]..", swap: true},
        {code: "40[039]", swap: true, error: false},
        {code: "[45]..", swap: false, error: true}
      ];
      htmx.onLoad(function (el) { init(el); });
      bindSessionGuards();
      // a boosted link to "…#act-supervise" swaps the page in: no load, no hashchange
      document.body.addEventListener("htmx:pushedIntoHistory", function () { openFromHash(document); });
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
