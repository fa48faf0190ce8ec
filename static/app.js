// tcpladder: the little JavaScript the pages need; everything works without it except
// copy-to-clipboard, the upload progress bar, the ladder's display switches and its keys
// (the links they follow work without it).
(function () {
  "use strict";
  // The server never writes the Host header it was sent into a page: without a configured
  // base URL the permalink is a path, completed here from the address the browser shows.
  document.addEventListener("DOMContentLoaded", function () {
    var link = document.getElementById("permalink");
    if (link && link.value.charAt(0) === "/") link.value = window.location.origin + link.value;
  });
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("button.copy");
    if (!btn) return;
    var input = document.querySelector(btn.dataset.copy);
    if (!input) return;
    input.select();
    var done = function () { btn.textContent = btn.dataset.done || "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    } else { document.execCommand("copy"); done(); }
  });
  // A tooltip stays inside the viewport: shifted sideways at the edges, opened below its
  // field near the top (after a #p jump the row sits at the top). A tap opens it on touch
  // screens (a tapped button does not always take focus there); a tap elsewhere closes it.
  function place(fw) {
    var tip = fw.querySelector(":scope > .tip");
    if (!tip) return;
    fw.classList.remove("below");
    tip.style.removeProperty("--tip-shift");
    var r = tip.getBoundingClientRect();
    if (!r.width) return;
    var vw = document.documentElement.clientWidth, shift = 0;
    if (r.left < 8) shift = 8 - r.left;
    else if (r.right > vw - 8) shift = vw - 8 - r.right;
    if (shift) tip.style.setProperty("--tip-shift", shift + "px");
    if (r.top < 8) fw.classList.add("below");
  }
  ["mouseover", "focusin"].forEach(function (type) {
    document.addEventListener(type, function (ev) {
      var fw = ev.target.closest && ev.target.closest(".fw");
      if (fw) place(fw);
    });
  });
  document.addEventListener("click", function (ev) {
    var fw = ev.target.closest(".fw");
    document.querySelectorAll(".fw.open").forEach(function (o) { if (o !== fw) o.classList.remove("open"); });
    if (fw && ev.target.closest("button.f")) { fw.classList.toggle("open"); place(fw); }
  });
  // Escape hides a field's tooltip by leaving the field.
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && document.activeElement && document.activeElement.classList.contains("f")) {
      var open = document.activeElement.closest(".fw.open");
      if (open) open.classList.remove("open");
      document.activeElement.blur();
    }
  });
  document.addEventListener("htmx:xhr:progress", function (ev) {
    var bar = document.getElementById("upload-progress");
    if (bar && ev.detail.lengthComputable) {
      bar.value = Math.round((ev.detail.loaded / ev.detail.total) * 100);
    }
  });
  // Clear a previous error when a new submission starts.
  document.addEventListener("htmx:beforeRequest", function (ev) {
    var result = document.getElementById("result");
    if (result && ev.target.id === "submit-form") result.innerHTML = "";
  });

  // ---- the ladder: display switches (remembered), #pN links, keys ----
  var SWITCHES = ["even", "absolute", "all-fields"];
  function saved() {
    try { return JSON.parse(localStorage.getItem("tcpladder.ladder") || "{}"); } catch (e) { return {}; }
  }
  function applySwitches(root) {
    var on = saved();
    root.querySelectorAll(".ladder").forEach(function (ladder) {
      SWITCHES.forEach(function (name) { ladder.classList.toggle(name, !!on[name]); });
    });
    root.querySelectorAll(".ladder-tools").forEach(function (tools) {
      tools.hidden = false;
      tools.querySelectorAll("button[data-toggle]").forEach(function (b) {
        b.setAttribute("aria-pressed", on[b.dataset.toggle] ? "true" : "false");
      });
    });
  }
  function ladder() { return document.querySelector(".ladder[data-session]"); }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll(".ladder .row.pkt")); }
  function say(text) {
    var status = document.querySelector(".ladder-tools .status");
    if (status) status.textContent = text;
  }
  function current() {
    var row = document.querySelector(".ladder .row.pkt.current");
    if (row) return row;
    var m = /^#p(\d+)$/.exec(window.location.hash);
    return m ? document.getElementById("p" + m[1]) : null;
  }
  function select(row) {
    document.querySelectorAll(".ladder .row.pkt.current").forEach(function (r) { r.classList.remove("current"); });
    row.classList.add("current");
    row.scrollIntoView({ block: "center" });
    rove(row);
    row.focus({ preventScroll: true });
    history.replaceState(null, "", "#" + row.id);
  }
  // Roving tabindex: the ladder is one tab stop, the row last visited; the arrow keys move
  // between rows (up, down, Home, End) and between a row's fields and links (left, right).
  function rove(row) {
    document.querySelectorAll('.ladder .row.pkt[tabindex="0"]').forEach(function (r) {
      if (r !== row) r.setAttribute("tabindex", "-1");
    });
    if (row) row.setAttribute("tabindex", "0");
  }
  function roveDefault() {  // after a swap: one tab stop, the current row's or the first's
    var stops = document.querySelectorAll('.ladder .row.pkt[tabindex="0"]');
    rove(current() || stops[0] || rows()[0] || null);
  }
  function controls(row) {
    return Array.prototype.slice.call(row.querySelectorAll("a.num, button.f, a.fnav, a.more"));
  }
  document.addEventListener("focusin", function (ev) {
    var row = ev.target.closest && ev.target.closest(".ladder .row.pkt");
    if (row) rove(row);
  });
  document.addEventListener("keydown", function (ev) {
    var row = ev.target.closest && ev.target.closest(".ladder .row.pkt");
    if (!row || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var all = rows(), inside = controls(row), i = inside.indexOf(ev.target);
    switch (ev.key) {
      case "ArrowDown": case "ArrowUp": {
        var k = all.indexOf(row) + (ev.key === "ArrowDown" ? 1 : -1);
        if (k >= 0 && k < all.length) select(all[k]); else step(ev.key === "ArrowDown", false);
        break;
      }
      case "Home": if (all.length) select(all[0]); break;
      case "End": if (all.length) select(all[all.length - 1]); break;
      case "ArrowRight": if (inside.length) inside[Math.min(i + 1, inside.length - 1)].focus(); break;
      case "ArrowLeft": if (i > 0) inside[i - 1].focus(); else row.focus(); break;
      case "Escape": if (ev.target !== row) { row.focus(); break; } return;
      default: return;
    }
    ev.preventDefault();
  });
  function at(n) {
    var l = ladder();
    if (l) window.location.assign("/s/" + l.dataset.session + "/at/" + n);
  }
  // A #pN whose packet is not on this page: the window that holds it.
  function follow() {
    var m = /^#p(\d+)$/.exec(window.location.hash);
    if (!m || !ladder()) return;
    var row = document.getElementById("p" + m[1]);
    if (row) { select(row); return; }
    var l = ladder();
    window.location.replace("/s/" + l.dataset.session + "/at/" + m[1]);
  }
  function step(forward, warnOnly) {
    var all = rows(), cur = current(), i = cur ? all.indexOf(cur) : (forward ? -1 : all.length);
    for (var k = i + (forward ? 1 : -1); k >= 0 && k < all.length; k += forward ? 1 : -1) {
      if (!warnOnly || all[k].classList.contains("warn")) { select(all[k]); return; }
    }
    var l = ladder();
    if (!l) return;
    var from = parseInt(l.dataset.from, 10), total = parseInt(l.dataset.total, 10);
    if (warnOnly) {  // the server looks beyond this window
      var n = cur ? cur.dataset.n : (all.length ? all[forward ? all.length - 1 : 0].dataset.n : null);
      var base = "/s/" + l.dataset.session + "/f/" + l.dataset.flow + "/find";
      if (n !== null) window.location.assign(base + (forward ? "?after=" : "?before=") + n);
      return;
    }
    var flow = "/s/" + l.dataset.session + "/f/" + l.dataset.flow;
    if (forward && from + all.length < total) {
      window.location.assign(flow + "?from=" + (from + all.length));
    } else if (!forward && from > 0) {  // the window before, at its last packet
      window.location.assign(flow + "?from=" + Math.max(from - parseInt(l.dataset.page, 10), 0) + "#last");
    }
  }
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest(".ladder-tools button[data-toggle]");
    if (b) {
      var on = saved();
      on[b.dataset.toggle] = !on[b.dataset.toggle];
      try { localStorage.setItem("tcpladder.ladder", JSON.stringify(on)); } catch (e) { /* private mode */ }
      applySwitches(document);
      return;
    }
    var help = ev.target.closest(".ladder-tools .keys-help");
    if (help) { var d = document.querySelector("dialog.keys"); if (d) d.showModal(); }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || !ladder()) return;
    var t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    if (document.querySelector("dialog.keys[open]")) return;
    var tools = document.querySelector(".ladder-tools");
    switch (ev.key) {
      case "j": step(true, false); break;
      case "k": step(false, false); break;
      case "n": step(true, true); break;
      case "N": step(false, true); break;
      case "g": {
        var n = window.prompt(tools ? tools.dataset.goto : "Packet:");
        if (n && /^\s*\d+\s*$/.test(n)) {
          var row = document.getElementById("p" + n.trim());
          if (row) select(row); else at(n.trim());
        }
        break;
      }
      case "?": { var d = document.querySelector("dialog.keys"); if (d) d.showModal(); break; }
      default: return;
    }
    ev.preventDefault();
  });
  function arrive() {
    applySwitches(document);
    roveDefault();
    markSpan();
    if (window.location.hash === "#last") {
      var all = rows();
      if (all.length) select(all[all.length - 1]);
    } else {
      follow();
    }
    var none = new URLSearchParams(window.location.search).get("none");
    var tools = document.querySelector(".ladder-tools");
    if (none && tools) say(none === "next" ? tools.dataset.noneNext : tools.dataset.nonePrevious);
  }
  // A range of packets from a graph (?span=first-last): marked on the ladder.
  function markSpan() {
    var m = /^(\d+)-(\d+)$/.exec(new URLSearchParams(window.location.search).get("span") || "");
    if (!m) return;
    var a = parseInt(m[1], 10), b = parseInt(m[2], 10);
    rows().forEach(function (r) {
      var n = parseInt(r.dataset.n, 10);
      r.classList.toggle("in-span", n >= a && n <= b);
    });
  }

  // ---- the graphs: drag across one to open that time range on the ladder ----
  var drag = null, dragged = false;
  function svgX(svg, ev) {
    var pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    return pt.matrixTransform(svg.getScreenCTM().inverse()).x;
  }
  document.addEventListener("pointerdown", function (ev) {
    var svg = ev.target.closest && ev.target.closest("svg.graph[data-t1]");
    if (!svg || ev.button !== 0) return;
    var x0 = parseFloat(svg.dataset.x0), x1 = parseFloat(svg.dataset.x1), x = svgX(svg, ev);
    if (x < x0 || x > x1) return;
    var rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    rect.setAttribute("class", "range");
    rect.setAttribute("y", "0"); rect.setAttribute("height", "100%");
    rect.setAttribute("x", String(x)); rect.setAttribute("width", "0");
    svg.appendChild(rect);
    drag = { svg: svg, rect: rect, from: x, to: x, x0: x0, x1: x1 };
    dragged = false;
    ev.preventDefault();  // no text selection, no dragging the link pressed on
  });
  document.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    var x = Math.min(Math.max(svgX(drag.svg, ev), drag.x0), drag.x1);
    drag.to = x;
    if (Math.abs(drag.to - drag.from) > 3) dragged = true;
    drag.rect.setAttribute("x", String(Math.min(drag.from, x)));
    drag.rect.setAttribute("width", String(Math.abs(x - drag.from)));
  });
  document.addEventListener("pointerup", function () {
    if (!drag) return;
    var d = drag; drag = null;
    d.rect.remove();
    if (!dragged) return;
    var l = ladder(), t1 = parseFloat(d.svg.dataset.t1);
    var secs = function (x) { return ((x - d.x0) / (d.x1 - d.x0)) * t1; };
    var a = secs(Math.min(d.from, d.to)), b = secs(Math.max(d.from, d.to));
    if (l) {
      window.location.assign("/s/" + l.dataset.session + "/f/" + d.svg.dataset.flow +
        "/time?t=" + a.toFixed(6) + "&until=" + b.toFixed(6));
    }
  });
  // a drag is not a click on the mark it ended on
  document.addEventListener("click", function (ev) {
    if (dragged && ev.target.closest && ev.target.closest("svg.graph")) {
      ev.preventDefault(); ev.stopPropagation(); dragged = false;
    }
  }, true);

  document.addEventListener("DOMContentLoaded", arrive);
  window.addEventListener("hashchange", follow);
  // The connection on show is the highlighted row of the table (the table is not part of
  // the fragment htmx swaps in when another connection is chosen).
  function markShown() {
    var shown = document.querySelector("#flow section.flow");
    var id = shown ? shown.dataset.flow : null;
    document.querySelectorAll("#conversations tr[data-flow]").forEach(function (tr) {
      if (tr.dataset.flow === id) tr.setAttribute("aria-current", "true");
      else tr.removeAttribute("aria-current");
    });
  }
  // Windows of rows added above keep the reader's place: the row that was first stays
  // where it was on the screen.
  var anchor = null;
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var t = ev.detail.target;
    if (t && t.classList && t.classList.contains("earlier")) {
      var next = t.nextElementSibling;
      anchor = next ? { el: next, top: next.getBoundingClientRect().top } : null;
    }
  });
  function windowStart() {
    var l = ladder();
    if (!l) return;
    document.querySelectorAll(".ladder .window-start").forEach(function (m) {
      var from = parseInt(m.dataset.from, 10);
      if (from < parseInt(l.dataset.from, 10)) l.dataset.from = String(from);
    });
  }
  document.addEventListener("htmx:afterSwap", function () {
    applySwitches(document); markShown(); markSpan(); windowStart(); roveDefault();
    if (anchor) { window.scrollBy(0, anchor.el.getBoundingClientRect().top - anchor.top); anchor = null; }
  });
  document.documentElement.classList.add("js");
})();
