// ganviz interactive page: pan/zoom, details, search and view switching for one diagram.
// All user text is set with textContent, never parsed as markup.
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var DATA = JSON.parse(document.getElementById("gv-data").textContent);
  var KIND_LABEL = {
    input: "Input", layer: "Layer", model: "Nested model", output: "Output", data: "Real data",
    noise: "Noise", constant: "Constant / labels", op: "Op", loss: "Loss", optimizer: "Optimizer",
    term: "Loss term", variable: "Step variable", cluster: "Nested model"
  };
  var LEGEND_NODE = {
    input: "Input", layer: "Layer", model: "Nested model (closed)", output: "Output", data: "Real data",
    noise: "Noise", constant: "Constant / labels", op: "Op", loss: "Loss (kinds and weights of its terms)",
    optimizer: "Optimizer", term: "Loss term (kind; \u00d7weight on its arrow)", variable: "Step variable (assigned)",
    frozen: "Frozen (not trained)"
  };
  // Kinds that hold no weights of their own: no parameter rows in their details.
  var NO_WEIGHTS = { data: 1, noise: 1, constant: 1, op: 1, loss: 1, optimizer: 1, term: 1, variable: 1 };
  var LEGEND_EDGE = {
    data: "Data flow", gradient: "Gradients (loss \u2192 model it trains)", update: "Optimizer update",
    assign: "Set without an optimizer (EMA, copy)"
  };
  var SHAPES = "polygon, ellipse, path, polyline, rect";

  var info = new Map();
  DATA.nodes.forEach(function (n) { n.type = "node"; info.set(n.id, n); });
  DATA.clusters.forEach(function (c) { c.type = "cluster"; info.set(c.id, c); });
  var children = new Map();
  info.forEach(function (x) {
    if (x.parent == null) return;
    if (!children.has(x.parent)) children.set(x.parent, []);
    children.get(x.parent).push(x.id);
  });

  function $(id) { return document.getElementById(id); }
  // Bidirectional controls and other invisible characters shown as escapes (as quoting.clean_text does
  // in the drawing): "abc\u202eexe.txt" must not read "abctxt.exe" in the details or the search results.
  var INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
  function vis(text) {
    return String(text).replace(INVISIBLE, function (c) {
      var h = c.charCodeAt(0).toString(16);
      return h.length <= 2 ? "\\x" + ("0" + h).slice(-2) : "\\u" + ("000" + h).slice(-4);
    });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = vis(text);
    return e;
  }
  function fmtInt(n) { return typeof n === "number" ? n.toLocaleString("en-US") : String(n); }
  function fmtShape(s) {
    if (s == null) return "?";
    if (!Array.isArray(s)) return String(s);
    return "(" + s.map(function (d) { return d == null ? "None" : String(d); }).join(", ") + (s.length === 1 ? ",)" : ")");
  }
  function fmtShapes(list) {
    if (!list || !list.length) return null;
    return list.length === 1 ? fmtShape(list[0]) : "[" + list.map(fmtShape).join(", ") + "]";
  }
  function fmtValue(v) {
    if (v == null) return "None";
    if (typeof v === "string") return v;
    if (typeof v === "boolean") return v ? "True" : "False";
    if (typeof v === "number") return String(v);
    if (typeof v === "object" && !Array.isArray(v) && typeof v.class_name === "string" && "config" in v) {
      // A serialized Keras object ({"module", "class_name", "config", ...}): GlorotUniform(seed=None).
      var c = v.config;
      if (!c || typeof c !== "object" || Array.isArray(c)) return v.class_name;
      var parts = Object.keys(c).filter(function (k) { return c[k] != null; }).map(function (k) {
        return k + "=" + fmtValue(c[k]);
      });
      return v.class_name + "(" + parts.join(", ") + ")";
    }
    return JSON.stringify(v);
  }
  function kindOf(x) { return x.type === "cluster" ? "cluster" : (KIND_LABEL[x.kind] ? x.kind : "other"); }
  function displayName(id) { var x = info.get(id); return x ? x.path.join(" \u203a ") : id; }

  // ---- views: each template is cloned once, on first use ------------------------------------
  var stage = $("gv-stage");
  var built = new Map();
  var scans = new Map();
  var current = null;
  var viewIndex = -1;
  var T = { x: 0, y: 0, k: 1 };

  function scan(tplIndex) {
    // Which ids are boxes (nodes) and which are open clusters in a template, without cloning it.
    if (scans.has(tplIndex)) return scans.get(tplIndex);
    var frag = $("gv-svg-" + tplIndex).content;
    var s = { nodes: new Set(), clusters: new Set() };
    frag.querySelectorAll("g.node[id]:not(.cluster-label)").forEach(function (g) { s.nodes.add(g.id); });
    frag.querySelectorAll("g.cluster[id]").forEach(function (g) { s.clusters.add(g.id); });
    scans.set(tplIndex, s);
    return s;
  }
  function present(s, id) {
    // The id itself if drawn, else its nearest drawn ancestor (a closed nested model).
    var cur = id;
    var guard = 0;
    while (cur != null && guard++ < 1000) {
      if (s.nodes.has(cur) || s.clusters.has(cur)) return cur;
      var x = info.get(cur);
      cur = x ? x.parent : null;
    }
    return null;
  }

  function build(tplIndex) {
    if (built.has(tplIndex)) return built.get(tplIndex);
    var s0 = scan(tplIndex);
    // Move the template's nodes into the page instead of cloning them: each view is built once.
    var svg = document.adoptNode($("gv-svg-" + tplIndex).content.querySelector("svg"));
    var vb = (svg.getAttribute("viewBox") || "0 0 100 100").trim().split(/[\s,]+/).map(Number);
    var base = { x: vb[0] || 0, y: vb[1] || 0, w: vb[2] || 100, h: vb[3] || 100 };
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
    var v = { svg: svg, base: base, els: new Map(), edges: [], s: s0 };
    var top = svg.querySelector("g.graph > title");
    if (top) top.remove();
    svg.querySelectorAll("g.node[id]:not(.cluster-label), g.cluster[id]").forEach(function (g) {
      v.els.set(g.id, g);
      // The box's border (its first stroked shape) carries the selection and search highlight, not
      // every cell of a table-shaped box.
      var shapes = g.querySelectorAll(SHAPES);
      for (var i = 0; i < shapes.length; i++) {
        if ((shapes[i].getAttribute("stroke") || "none").toLowerCase() !== "none") {
          shapes[i].classList.add("gv-outline");
          break;
        }
      }
      var x = info.get(g.id);
      var t = g.querySelector("title");
      if (t && x) t.textContent = vis(x.path.join(" \u203a ") + (x.class_name ? " (" + x.class_name + ")" : ""));
    });
    var kinds = new Map();
    DATA.edges.forEach(function (e) {
      var key = present(v.s, e[0]) + "->" + present(v.s, e[1]);
      if (!kinds.has(key)) kinds.set(key, e);
    });
    svg.querySelectorAll("g.edge").forEach(function (g) {
      var t = g.querySelector("title");
      var ends = t ? t.textContent.split("->") : [];
      var e = kinds.get(ends.join("->"));
      var kind = e && LEGEND_EDGE[e[2]] ? e[2] : "data";
      g.classList.add("gv-e-" + kind);
      v.edges.push({ g: g, s: ends[0], t: ends[1], kind: kind });
      if (t && ends.length === 2) {
        t.textContent = vis(displayName(ends[0]) + " \u2192 " + displayName(ends[1]) + (e && e[3] ? "  [" + e[3] + "]" : ""));
      }
    });
    built.set(tplIndex, v);
    return v;
  }

  function W() { return stage.clientWidth || 1; }
  function H() { return stage.clientHeight || 1; }
  var fitted = false;
  var lastSize = [0, 0];
  function apply() {
    fitted = false;
    if (current) current.svg.setAttribute("viewBox", T.x + " " + T.y + " " + W() / T.k + " " + H() / T.k);
  }
  function fitK(b) { return Math.min(W() / b.w, H() / b.h); }
  function fitBox(b, maxK) {
    var k = Math.min(fitK(b) * 0.94, maxK);
    T.k = k;
    T.x = b.x + b.w / 2 - W() / k / 2;
    T.y = b.y + b.h / 2 - H() / k / 2;
    apply();
  }
  // Below READABLE the 9-11 pt labels of the drawing are too small to read; such a drawing starts
  // at its first end, at a scale between READ_AT and 1.
  var READABLE = 0.6, READ_AT = 0.8;
  function fit(readable) {
    // Whole drawing in view; with readable, one too long for that starts at its top (or left)
    // end at a scale where the labels can be read, instead of as a blur.
    if (!current) return;
    var b = current.base;
    fitBox(b, 1.25);
    if (readable && T.k < READABLE) {
      var tall = b.h / H() >= b.w / W();
      T.k = Math.max(READ_AT, Math.min(1, (tall ? W() / b.w : H() / b.h) * 0.94));
      T.x = tall ? b.x + b.w / 2 - W() / T.k / 2 : b.x - 8 / T.k;
      T.y = tall ? b.y - 8 / T.k : b.y + b.h / 2 - H() / T.k / 2;
      apply();
    }
    lastSize = [W(), H()];
    fitted = readable ? "readable" : "all";
  }
  function clampK(k) {
    var lo = Math.min(0.02, current ? fitK(current.base) * 0.5 : 0.02);
    return Math.max(lo, Math.min(8, k));
  }
  function zoomAt(f, px, py) {
    var sx = T.x + px / T.k, sy = T.y + py / T.k;
    T.k = clampK(T.k * f);
    T.x = sx - px / T.k;
    T.y = sy - py / T.k;
    apply();
  }
  function boxOf(g) {
    // The element's box in viewBox units, from its position on screen.
    var r = g.getBoundingClientRect(), s = stage.getBoundingClientRect();
    return { x: T.x + (r.left - s.left) / T.k, y: T.y + (r.top - s.top) / T.k, w: r.width / T.k, h: r.height / T.k };
  }
  function centerOn(g, zoomTo) {
    var b = boxOf(g);
    if (zoomTo) { fitBox(b, 1.5); return; }
    if (T.k < 0.5) T.k = 0.9;
    T.x = b.x + b.w / 2 - W() / T.k / 2;
    T.y = b.y + b.h / 2 - H() / T.k / 2;
    apply();
  }

  function showView(i, keepSelection) {
    var entry = DATA.views[i];
    if (!entry) return;
    var v = build(entry.svg);
    if (current !== v) {
      if (current) current.svg.remove();
      current = v;
      legend();
      fit(true); // measured and set before the drawing is attached: one layout of the big SVG, not two
      stage.appendChild(v.svg);
    }
    viewIndex = i;
    document.querySelectorAll(".gv-view").forEach(function (b) {
      b.setAttribute("aria-checked", String(Number(b.getAttribute("data-view")) === i));
    });
    runSearch();
    if (keepSelection !== false) mark(selected);
  }

  // Views where a nested model is open / closed: prefer the one that changes least.
  function openCount(vi) { return scan(DATA.views[vi].svg).clusters.size; }
  function viewsWhere(test) {
    var out = [];
    DATA.views.forEach(function (e, i) { if (test(scan(e.svg))) out.push(i); });
    return out;
  }
  function openView(id) {
    var c = viewsWhere(function (s) { return s.clusters.has(id); });
    c.sort(function (a, b) { return openCount(a) - openCount(b); });
    return c.length ? c[0] : -1;
  }
  function closeView(id) {
    var c = viewsWhere(function (s) { return s.nodes.has(id); });
    c.sort(function (a, b) { return openCount(b) - openCount(a); });
    return c.length ? c[0] : -1;
  }
  function openModel(id) {
    var i = openView(id);
    if (i < 0) return;
    showView(i);
    var g = current.els.get(id);
    if (g) centerOn(g, true);
    select(id, false);
  }
  function closeModel(id) {
    var i = closeView(id);
    if (i < 0) return;
    showView(i);
    select(id, true);
  }
  function goTo(id) {
    // Select id, switching to a view where it is drawn if needed.
    if (!current.els.has(id)) {
      var i = -1;
      var c = viewsWhere(function (s) { return s.nodes.has(id) || s.clusters.has(id); });
      c.sort(function (a, b) { return openCount(a) - openCount(b); });
      if (c.length) i = c[0];
      if (i >= 0) showView(i);
    }
    select(id, true);
  }

  // ---- selection and details ----------------------------------------------------------------
  var selected = null;
  function mark(id) {
    if (!current) return;
    current.svg.querySelectorAll(".gv-sel, .gv-near").forEach(function (g) { g.classList.remove("gv-sel", "gv-near"); });
    if (id == null) return;
    var g = current.els.get(id);
    if (g) g.classList.add("gv-sel");
    current.edges.forEach(function (e) { if (e.s === id || e.t === id) e.g.classList.add("gv-near"); });
  }
  function select(id, center) {
    selected = id;
    mark(id);
    details(id);
    if (center && id != null) {
      var g = current.els.get(id) || current.els.get(present(current.s, id));
      if (g) centerOn(g, false);
    }
  }

  function table(rows) {
    var t = el("table", "gv-table");
    rows.forEach(function (r) {
      if (r[1] == null || r[1] === "") return;
      var tr = el("tr");
      tr.appendChild(el("th", null, r[0]));
      var td = el("td", r[2] || null, r[1]);
      tr.appendChild(td);
      t.appendChild(tr);
    });
    return t;
  }
  function section(title, body) {
    var s = el("section");
    s.appendChild(el("h3", null, title));
    s.appendChild(body);
    return s;
  }
  function linkList(items) {
    var ol = el("ol", "gv-list");
    items.slice(0, 100).forEach(function (it) {
      var li = el("li");
      var b = el("button", "gv-link", it.label || displayName(it.id));
      b.type = "button";
      if (it.sub) b.appendChild(el("span", "gv-sub", it.sub));
      b.addEventListener("click", function () { goTo(it.id); });
      li.appendChild(b);
      ol.appendChild(li);
    });
    if (items.length > 100) ol.appendChild(el("li", "gv-more", "\u2026 and " + (items.length - 100) + " more"));
    return ol;
  }

  function summary(box) {
    var d = DATA.graph.details || {};
    box.appendChild(el("div", "gv-kicker", "Diagram"));
    box.appendChild(el("h2", "gv-name", DATA.graph.name));
    if (d.class_name) box.appendChild(el("div", "gv-class", d.class_name));
    var layers = DATA.nodes.filter(function (n) { return n.kind === "layer"; }).length;
    var drawn = ["Drawn from", d.assumed === true ? "assumed standard GAN loop (not traced)"
      : d.assumed === false ? "traced training step" : null];
    // A traced step's page holds two diagrams (one box per call, and the architectures): its
    // counts come from the trace, so nothing is counted twice.
    var counts = Array.isArray(d.summary) ? d.summary.map(function (r) {
      return [String(r[0]), typeof r[1] === "number" ? fmtInt(r[1]) : String(r[1])];
    }) : [
      ["Boxes", fmtInt(DATA.nodes.length)],
      ["Layers", layers ? fmtInt(layers) : null],
      [d.assumed != null ? "Models" : "Nested models", DATA.clusters.length ? fmtInt(DATA.clusters.length) : null]
    ];
    var rows = [drawn].concat(counts, [
      ["Parameters", d.params != null ? fmtInt(d.params) : null],
      ["Trainable", d.trainable_params != null ? fmtInt(d.trainable_params) : null]
    ]);
    if (Array.isArray(d.not_drawn) && d.not_drawn.length) rows.push(["Not drawn", d.not_drawn.join("; ")]);
    box.appendChild(section("Summary", table(rows)));
    var p = el("p", "gv-empty", "Click any box for its details. Drag to pan, use the wheel to zoom, press / to search.");
    box.appendChild(p);
  }

  function details(id) {
    var box = $("gv-details");
    box.textContent = "";
    var x = id == null ? null : info.get(id);
    if (!x) { summary(box); return; }
    var drawnAs = current.s.clusters.has(id) ? "open" : current.s.nodes.has(id) ? "box" : "hidden";
    var isModel = x.type === "cluster" || x.kind === "model";
    var kick = el("div", "gv-kicker", isModel ? (drawnAs === "open" ? "Nested model (open)" : "Nested model")
      : (KIND_LABEL[x.kind] || String(x.kind)));
    if (x.trainable === false) kick.appendChild(el("span", "gv-badge", "frozen"));
    box.appendChild(kick);
    if (x.path.length > 1) box.appendChild(el("div", "gv-path", x.path.slice(0, -1).join(" \u203a ") + " \u203a"));
    box.appendChild(el("h2", "gv-name", x.name));
    if (x.class_name) box.appendChild(el("div", "gv-class", x.class_name));

    var acts = el("div", "gv-actions");
    function action(label, fn) {
      var b = el("button", null, label);
      b.type = "button";
      b.addEventListener("click", fn);
      acts.appendChild(b);
    }
    if (isModel && drawnAs !== "open" && openView(id) >= 0) action("Open model", function () { openModel(id); });
    if (isModel && drawnAs === "open" && closeView(id) >= 0) action("Close model", function () { closeModel(id); });
    if (drawnAs === "hidden") action("Show in diagram", function () { goTo(id); });
    if (acts.children.length) box.appendChild(acts);

    var det = x.details || {};
    var ins = x.input_shapes || det.input_shapes, outs = x.output_shapes || det.output_shapes;
    var rows = [
      ["Input shape", fmtShapes(ins), "gv-mono"],
      ["Output shape", fmtShapes(outs), "gv-mono"],
      ["dtype", x.dtype || det.dtype || null, "gv-mono"],
      ["Activation", x.activation || null],
      ["Parameters", fmtInt(x.params || 0)],
      ["Trainable params", fmtInt(x.trainable_params || 0)],
      ["Non-trainable", x.params != null && x.trainable_params != null ? fmtInt(x.params - x.trainable_params) : null],
      ["Trainable", x.trainable === false ? "no (frozen)" : "yes"]
    ];
    if (x.type !== "cluster" && NO_WEIGHTS[x.kind]) rows = rows.slice(0, 4);
    var props = table(rows);
    if (props.rows.length) box.appendChild(section("Properties", props));

    var extra = Object.keys(det).filter(function (k) {
      return ["config", "input_shapes", "output_shapes", "dtype"].indexOf(k) < 0;
    });
    if (extra.length) {
      box.appendChild(section("Details", table(extra.map(function (k) { return [k, fmtValue(det[k]), "gv-mono"]; }))));
    }
    var cfg = det.config;
    if (cfg && typeof cfg === "object" && !Array.isArray(cfg)) {
      var keys = Object.keys(cfg);
      var body = keys.length ? table(keys.map(function (k) { return [k, fmtValue(cfg[k]), "gv-mono"]; }))
        : el("div", "gv-empty", "(empty)");
      box.appendChild(section("Config", body));
    } else if (cfg != null) {
      box.appendChild(section("Config", el("div", "gv-mono", fmtValue(cfg))));
    }

    var inner = children.get(id) || [];
    if (inner.length) {
      box.appendChild(section("Inside (" + inner.length + ")", linkList(inner.map(function (c) {
        var y = info.get(c);
        return { id: c, label: y ? y.name : c, sub: y && y.class_name ? y.class_name : null };
      }))));
    }
    var from = [], to = [], trains = [], trainedBy = [];
    DATA.edges.forEach(function (e) {
      if (!info.has(e[0]) || !info.has(e[1])) return;
      if (LEARNS[e[2]]) {
        // A gradient or update edge ends on a layer inside the model it trains: name the model.
        var m = outerModel(e[1]);
        var sub = LEARNS[e[2]] + (e[3] ? ": " + e[3] : "");
        if (e[0] === id) trains.push({ id: m, sub: sub });
        if (m === id || e[1] === id) trainedBy.push({ id: e[0], sub: sub });
        return;
      }
      var label = e[3] || null;
      if (e[1] === id) from.push({ id: e[0], sub: label });
      if (e[0] === id) to.push({ id: e[1], sub: label });
    });
    if (from.length) box.appendChild(section("Inputs from", linkList(from)));
    if (to.length) box.appendChild(section("Outputs to", linkList(to)));
    if (trains.length) box.appendChild(section("Trains", linkList(trains)));
    if (trainedBy.length) box.appendChild(section("Trained by", linkList(trainedBy)));
  }
  var LEARNS = { gradient: "gradients", update: "update" };
  function outerModel(id) {
    // The outermost nested model holding id (the model a GAN trace's gradient goes to), else id.
    var cur = id, top = id, guard = 0;
    while (cur != null && guard++ < 1000) {
      var y = info.get(cur);
      if (!y) break;
      if (y.type === "cluster" || y.kind === "model") top = cur;
      cur = y.parent;
    }
    return top;
  }

  // ---- search -------------------------------------------------------------------------------
  var search = $("gv-search");
  var hits = [];
  var hitCursor = -1;
  function runSearch() {
    var q = search.value.trim().toLowerCase();
    var res = $("gv-results"), count = $("gv-count");
    if (current) {
      current.svg.querySelectorAll(".gv-hit, .gv-hit-in").forEach(function (g) { g.classList.remove("gv-hit", "gv-hit-in"); });
      current.svg.classList.toggle("gv-searching", q.length > 0);
    }
    res.textContent = "";
    if (!q) { hits = []; res.hidden = true; count.textContent = ""; return; }
    hits = [];
    info.forEach(function (x) {
      if (String(x.name).toLowerCase().indexOf(q) >= 0 || String(x.class_name || "").toLowerCase().indexOf(q) >= 0) hits.push(x.id);
    });
    count.textContent = hits.length === 1 ? "1 match" : hits.length + " matches";
    res.hidden = false;
    res.appendChild(el("h2", null, hits.length ? "Matches" : "No layer matches \u201c" + search.value.trim() + "\u201d"));
    var items = hits.map(function (id) {
      var x = info.get(id);
      var where = current ? present(current.s, id) : id;
      var sub = x.class_name || (KIND_LABEL[x.kind] || "");
      if (where && where !== id) sub += " \u00b7 inside closed " + info.get(where).name;
      var g = current && where ? current.els.get(where) : null;
      if (g) g.classList.add(where === id ? "gv-hit" : "gv-hit-in");
      return { id: id, sub: sub };
    });
    if (items.length) res.appendChild(linkList(items));
  }
  search.addEventListener("input", function () { hitCursor = -1; runSearch(); });
  search.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && hits.length) {
      e.preventDefault();
      hitCursor = (hitCursor + 1) % hits.length;
      goTo(hits[hitCursor]);
    } else if (e.key === "Escape") {
      search.value = "";
      runSearch();
      stage.focus();
    }
  });

  // ---- legend (swatches copied from the drawing, so they always match it) ---------------------
  function swatch(shape, isEdge, outline) {
    // outline: the shape that draws the border, when it is not the one holding the colour.
    var s = document.createElementNS(SVGNS, "svg");
    s.setAttribute("width", "26");
    s.setAttribute("height", "14");
    var line = outline || shape;
    var fill = shape ? shape.getAttribute("fill") : null, stroke = line ? line.getAttribute("stroke") : null;
    var dash = line ? line.getAttribute("stroke-dasharray") : null;
    var e;
    if (isEdge) {
      e = document.createElementNS(SVGNS, "line");
      e.setAttribute("x1", "1"); e.setAttribute("y1", "7"); e.setAttribute("x2", "25"); e.setAttribute("y2", "7");
      e.setAttribute("stroke", stroke || "#000");
      e.setAttribute("stroke-width", "1.6");
      if (dash) e.setAttribute("stroke-dasharray", dash);
    } else if (shape && shape.tagName === "ellipse") {
      e = document.createElementNS(SVGNS, "ellipse");
      e.setAttribute("cx", "13"); e.setAttribute("cy", "7"); e.setAttribute("rx", "11"); e.setAttribute("ry", "6");
    } else {
      e = document.createElementNS(SVGNS, "rect");
      e.setAttribute("x", "1.5"); e.setAttribute("y", "1.5"); e.setAttribute("width", "23"); e.setAttribute("height", "11");
      e.setAttribute("rx", "2.5");
    }
    if (!isEdge) {
      e.setAttribute("fill", fill && fill !== "none" ? fill : "#fff");
      e.setAttribute("stroke", stroke && stroke !== "none" ? stroke : "#000");
      if (dash) e.setAttribute("stroke-dasharray", dash);
    }
    s.appendChild(e);
    return s;
  }
  function mainShape(g) {
    // The first shape with a colour of its own (a table's header cell), else the first shape.
    var shapes = g.querySelectorAll(SHAPES);
    for (var i = 0; i < shapes.length; i++) {
      var f = (shapes[i].getAttribute("fill") || "none").toLowerCase();
      if (["none", "white", "#ffffff", "#fff", "transparent"].indexOf(f) < 0) return shapes[i];
    }
    return shapes[0] || null;
  }
  function outlineShape(g) {
    var shapes = g.querySelectorAll(SHAPES);
    for (var i = 0; i < shapes.length; i++) {
      if ((shapes[i].getAttribute("stroke") || "none").toLowerCase() !== "none") return shapes[i];
    }
    return null;
  }
  function legend() {
    var box = $("gv-legend");
    box.textContent = "";
    if (!current) return;
    var rows = [];
    var seen = new Set();
    current.els.forEach(function (g, id) {
      var x = info.get(id);
      var isCluster = g.classList.contains("cluster");
      var k = isCluster ? "cluster" : x ? (x.type === "cluster" ? "model" : x.kind) : null;
      if (!isCluster && x && x.trainable === false && (k === "layer" || k === "model")) k = "frozen";
      if (!k || seen.has(k) || (!isCluster && !LEGEND_NODE[k])) return;
      seen.add(k);
      rows.push([swatch(mainShape(g), false, outlineShape(g)), isCluster ? "Nested model (open)" : LEGEND_NODE[k]]);
    });
    var eseen = new Set();
    current.edges.forEach(function (e) {
      if (eseen.has(e.kind)) return;
      eseen.add(e.kind);
      rows.push([swatch(e.g.querySelector("path"), true), LEGEND_EDGE[e.kind]]);
    });
    box.parentNode.classList.toggle("gv-long", rows.length > 5);
    if (rows.length < 2) return;
    box.appendChild(el("div", "gv-legend-title", "Legend"));
    rows.forEach(function (r) {
      var row = el("div", "gv-legend-row");
      row.appendChild(r[0]);
      row.appendChild(el("span", null, r[1]));
      box.appendChild(row);
    });
  }

  // ---- pointer, wheel and keys ----------------------------------------------------------------
  var drag = null, dragged = false;
  stage.addEventListener("pointerdown", function (e) {
    if (e.button !== 0) return;
    drag = { id: e.pointerId, x: e.clientX, y: e.clientY, tx: T.x, ty: T.y, captured: false };
    dragged = false;
  });
  stage.addEventListener("pointermove", function (e) {
    if (!drag || e.pointerId !== drag.id) return;
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!drag.captured) {
      if (Math.abs(dx) + Math.abs(dy) < 4) return;
      drag.captured = true;
      dragged = true;
      stage.setPointerCapture(e.pointerId);
      stage.classList.add("gv-dragging");
    }
    T.x = drag.tx - dx / T.k;
    T.y = drag.ty - dy / T.k;
    apply();
  });
  function endDrag(e) {
    if (!drag || e.pointerId !== drag.id) return;
    if (drag.captured && stage.hasPointerCapture(e.pointerId)) stage.releasePointerCapture(e.pointerId);
    stage.classList.remove("gv-dragging");
    drag = null;
  }
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);
  function target(e) {
    var t = e.target;
    if (!t || !t.closest) return null;
    // A nested model's label is drawn as a node of its own ("<cluster id>::label"): it stands for the model.
    var h = t.closest("g.node.cluster-label[id]");
    if (h && h.ownerSVGElement) {
      var c = h.ownerSVGElement.querySelector('g.cluster[id="' + CSS.escape(h.id.replace(/::label$/, "")) + '"]');
      if (c) return c;
    }
    return t.closest("g.node[id]:not(.cluster-label)") || t.closest("g.cluster[id]");
  }
  stage.addEventListener("click", function (e) {
    if (dragged) { dragged = false; return; }
    var g = target(e);
    select(g && info.has(g.id) ? g.id : null, false);
  });
  stage.addEventListener("dblclick", function (e) {
    var g = target(e);
    if (!g) return;
    var x = info.get(g.id);
    if (x && g.classList.contains("node") && (x.type === "cluster" || x.kind === "model")) openModel(g.id);
  });
  stage.addEventListener("wheel", function (e) {
    e.preventDefault();
    var d = e.deltaY * (e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? H() : 1);
    var r = stage.getBoundingClientRect();
    zoomAt(Math.exp(-Math.max(-300, Math.min(300, d)) * 0.002), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  $("gv-zoom-in").addEventListener("click", function () { zoomAt(1.25, W() / 2, H() / 2); });
  $("gv-zoom-out").addEventListener("click", function () { zoomAt(0.8, W() / 2, H() / 2); });
  $("gv-fit").addEventListener("click", function () { fit(false); });
  document.querySelectorAll(".gv-view").forEach(function (b) {
    b.addEventListener("click", function () { showView(Number(b.getAttribute("data-view"))); });
  });
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "/") { e.preventDefault(); search.focus(); search.select(); }
    else if (e.key === "+" || e.key === "=") zoomAt(1.25, W() / 2, H() / 2);
    else if (e.key === "-") zoomAt(0.8, W() / 2, H() / 2);
    else if (e.key === "0") fit(false);
    else if (e.key === "Escape") select(null, false);
  });
  function resized() {
    if (!current) return;
    if (W() === lastSize[0] && H() === lastSize[1]) return;
    if (fitted) { fit(fitted === "readable"); return; }
    // Keep the point at the centre of the view where it was.
    var cx = T.x + lastSize[0] / T.k / 2, cy = T.y + lastSize[1] / T.k / 2;
    lastSize = [W(), H()];
    T.x = cx - W() / T.k / 2;
    T.y = cy - H() / T.k / 2;
    apply();
  }
  if (typeof ResizeObserver === "function") new ResizeObserver(resized).observe(stage);
  else window.addEventListener("resize", resized);

  // ---- start --------------------------------------------------------------------------------
  showView(DATA.initial || 0, false);
  details(null);
  var api = {
    views: DATA.views.map(function (v) { return v.label; }),
    showView: function (label) { var i = api.views.indexOf(label); if (i >= 0) showView(i); return i >= 0; },
    currentView: function () { return DATA.views[viewIndex].label; },
    select: function (id) { goTo(id); },
    search: function (q) { search.value = q; runSearch(); return hits.slice(); },
    drawnAt: null
  };
  window.ganviz = api;
  requestAnimationFrame(function () {
    requestAnimationFrame(function () {
      api.drawnAt = performance.now();
      document.documentElement.setAttribute("data-gv-ready", "1");
    });
  });
})();
