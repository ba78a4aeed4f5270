// Wallboard behaviour, wired by data attributes (no inline script: the CSP forbids it).
// - [data-since] elements show a timer that ticks every second, corrected for the
//   difference between this browser's clock and the server's (#counters[data-server-now]).
// - the body's class tells whether the live socket is up: is-live (once its snapshot is
//   applied) / is-offline / is-connecting.
// - the live list is kept most urgent first (as dashboard/urgency.py orders it), and what does
//   not fit its box is counted in a "+N more" line instead of running off the screen, as are
//   the tiles that do not fit a TV's grid; rows and tiles well out of sight are not rendered.
// - what the socket pushes is applied once per animation frame (a big frame's work in slices
//   over a few), however many messages came meanwhile: the latest fragment for an element
//   wins, and a fragment with nothing for htmx to wire (a TV's rows and tiles) is swapped in
//   directly instead of through htmx, changing the element in place.
(function () {
  "use strict";
  var clockOffset = 0; // server time minus browser time, in ms
  var timeZone; // the PBX's, so the wall clock matches the times on the calls

  function format(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  // Thresholds, applied every second as on the server (dashboard/thresholds.py): a timer
  // past its data-warn seconds turns amber, past data-alert red; a new red may chime.
  var alerted = new Map(); // "element id:since" -> [id, since], while a timer shows it

  function forgetAlertsGone() { // a wall screen runs for weeks: forget what left the board
    alerted.forEach(function (timer, key) {
      var holder = document.getElementById(timer[0]);
      var selector = '[data-since="' + timer[1] + '"]';
      if (!holder || !(holder.matches(selector) || holder.querySelector(selector))) alerted.delete(key);
    });
  }

  function applyThreshold(el, seconds, holder) {
    var warn = Number(el.getAttribute("data-warn")), alert = Number(el.getAttribute("data-alert"));
    var level = seconds >= alert ? "alert" : seconds >= warn ? "warn" : "ok";
    el.classList.toggle("is-warn", level === "warn");
    el.classList.toggle("is-alert", level === "alert");
    // The whole row or tile takes the warning colour, not only its timer.
    if (holder && holder.getAttribute("data-level") !== level) {
      holder.setAttribute("data-level", level);
      urgencyKeys.delete(holder);
    }
    var id = (el.closest("[id]") || el).id, since = el.getAttribute("data-since");
    var key = id + ":" + since;
    if (level === "alert" && !alerted.has(key)) {
      alerted.set(key, [id, since]);
      if (document.body.getAttribute("data-alert-sound") === "on") chime(true);
    }
  }

  var OUT_OF_SIGHT = /(^|\s)is-(overflow|far)(\s|$)/;

  function updateTimers(elements, now) {
    elements.forEach(function (el) {
      var since = Number(el.getAttribute("data-since"));
      if (!(since > 0)) return;
      var seconds = (now - since) / 1000;
      var holder = el.closest("article.call, article.tile");
      if (el.hasAttribute("data-threshold")) applyThreshold(el, seconds, holder);
      // A row counted in "+N more", a tile cut off below the TV's grid, is not seen: its
      // text waits until it shows again.
      if (holder && OUT_OF_SIGHT.test(holder.className)) return;
      // Idle for more than a day reads as a date ("since 28 Nov"), not a timer of days.
      var text = el.hasAttribute("data-idle") && seconds >= DAY ? "since " + localDay(since, now) : format(seconds);
      if (el.textContent !== text) el.textContent = text;
    });
  }

  function timersIn(elements) {
    var found = [];
    elements.forEach(function (el) {
      if (el.matches("[data-since]")) found.push(el);
      el.querySelectorAll("[data-since]").forEach(function (timer) { found.push(timer); });
    });
    return found;
  }

  // Every second; a frame of pushes applied a second or so after the last tick ticks with
  // it, so that a wall screen's page is laid out and painted once for both. True if it ran.
  var lastTick = 0;
  var SHARED_TICK_MS = 900;

  function tick() {
    if (tickTimers()) arrangeTimed(0);
  }

  // The timers and the clock (what the page shows changes, nothing is read back from its layout).
  function tickTimers() {
    if (Date.now() - lastTick < SHARED_TICK_MS) return false; // a frame has just ticked
    lastTick = Date.now();
    var now = Date.now() + clockOffset;
    updateTimers(document.querySelectorAll("[data-since]"), now);
    forgetAlertsGone();
    forgetAnnouncedGone();
    var clock = document.getElementById("clock");
    if (clock) {
      try {
        var text = formatter("clock", [], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(now);
        if (clock.textContent !== text) clock.textContent = text;
      } catch (e) { // an unknown zone name: fall back to the browser's
        timeZone = undefined;
      }
    }
    return true;
  }

  // Formatters in the PBX's zone, made once (a wall screen asks every second, for weeks).
  var formatters = new Map();

  function formatter(use, locales, options) {
    var key = use + " " + timeZone;
    var made = formatters.get(key);
    if (!made) {
      made = new Intl.DateTimeFormat(locales, Object.assign({ timeZone: timeZone }, options));
      formatters.set(key, made);
    }
    return made;
  }

  // The list in order, and what does not fit counted; rows and tiles shown again get their
  // timer's text.
  function arrange() {
    var list = document.getElementById("live-calls");
    var rows = list ? orderLiveCalls(list, callRows(list)) : [];
    // Every mark before the first read, so that the tiles and the rows read one layout.
    markFar(rows, rowsLaid); // rows that came or moved down there stay out of it
    var shown = fitTiles().concat(fitLiveCalls(list, rows));
    countsLater.forEach(function (count) { count[0].textContent = count[1]; });
    countsLater = [];
    if (shown.length) updateTimers(timersIn(shown), Date.now() + clockOffset);
  }

  // "+N more" lines changed, written once both fits have read the layout: a line's new text
  // written between them made the second read lay the page out again (a quarter of arrange()).
  var countsLater = [];

  function countLater(line, text) {
    if (line.textContent !== text) countsLater.push([line, text]);
  }

  var DAY = 86400;

  function localDay(ms, now) {
    var parts = {};
    try {
      formatter("day", "en-GB", { day: "numeric", month: "short", year: "numeric" }).formatToParts(ms).forEach(function (part) { parts[part.type] = part.value; });
      var thisYear = formatter("year", "en-GB", { year: "numeric" }).format(now);
      return parts.day + " " + parts.month + (parts.year === thisYear ? "" : " " + parts.year);
    } catch (e) { // an unknown zone name: the browser's
      return new Date(ms).toLocaleDateString();
    }
  }

  // Most urgent first: past a threshold (red, then amber), then ringing, then talking, each
  // oldest first; finished calls last. Not while someone works in the list (a transfer
  // being typed): moving a row would take the focus away from it.
  var LEVEL_RANK = { alert: 0, warn: 1 };

  // A row's key is kept until the row changes: a push changes it in place (morph()) or
  // replaces it, a threshold its level (applyThreshold()).
  var urgencyKeys = new WeakMap();

  function urgency(row) {
    var key = urgencyKeys.get(row);
    if (!key) {
      key = urgencyOf(row);
      urgencyKeys.set(row, key);
    }
    return key;
  }

  function urgencyOf(row) {
    var timer = row.querySelector(".call-timer[data-since]");
    var finished = row.classList.contains("is-finished") || !timer;
    var level = LEVEL_RANK[row.getAttribute("data-level")];
    return [
      finished ? 1 : 0,
      finished || level === undefined ? 2 : level,
      row.classList.contains("is-ringing") ? 0 : 1,
      timer ? Number(timer.getAttribute("data-since")) : 0,
    ];
  }

  function compareKeys(a, b) {
    for (var i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return 0;
  }

  function compareUrgency(a, b) {
    return compareKeys(a.key, b.key) || a.index - b.index;
  }

  // Most arrangements find the list as it was (every second, for the timers): nothing to sort.
  function inUrgencyOrder(rows) {
    for (var i = 1; i < rows.length; i++) {
      if (compareKeys(urgency(rows[i - 1]), urgency(rows[i])) > 0) return false;
    }
    return true;
  }

  // Returns the rows in their order now.
  function orderLiveCalls(list, rows) {
    if (list.contains(document.activeElement) || inUrgencyOrder(rows)) return rows;
    var sorted = rows.map(function (row, index) { return { row: row, key: urgency(row), index: index }; }).sort(compareUrgency);
    // Only the rows out of order move: those outside the longest run already in order.
    var staying = inOrder(sorted.map(function (item) { return item.index; }));
    var next = rows[rows.length - 1].nextSibling; // each row goes before the next in order
    for (var i = sorted.length - 1; i >= 0; i--) {
      var row = sorted[i].row;
      if (!staying.has(i)) list.insertBefore(row, next);
      next = row;
    }
    return sorted.map(function (item) { return item.row; });
  }

  // The positions (in `values`) of a longest increasing subsequence of it.
  function inOrder(values) {
    var tails = [], tailAt = [], before = new Array(values.length);
    values.forEach(function (value, i) {
      var low = 0, high = tails.length;
      while (low < high) {
        var mid = (low + high) >> 1;
        if (tails[mid] < value) low = mid + 1; else high = mid;
      }
      before[i] = low > 0 ? tailAt[low - 1] : -1;
      tails[low] = value;
      tailAt[low] = i;
    });
    var kept = new Set();
    for (var at = tails.length ? tailAt[tails.length - 1] : -1; at >= 0; at = before[at]) kept.add(at);
    return kept;
  }

  // The rows that would run past the list's box are hidden (visibility only, so that nothing
  // moves), and counted: "+3 more". Rows stack, so the first one past the box is found by
  // halving, from one layout; the "+N more" line showing or going costs a second one.
  // Only the rows down to a few past the first hidden one are laid out: those further down
  // (is-far) are not rendered at all, so that the calls coming, moving and going down there
  // (most of a busy TV's) cost no styling or layout. Should every row laid out fit, more are.
  // A TV's tiles likewise: its grid cuts off what runs past its bottom (most of a big PBX's
  // extensions), and the tiles from a few past the first one wholly below it are not rendered.
  function laidOut(margin) { // the first `near` elements are laid out: the first past + margin
    return { near: Infinity, margin: margin };
  }
  var rowsLaid = laidOut(10), tilesLaid = laidOut(10);

  function firstPast(elements, isPast) {
    var low = 0, high = elements.length;
    while (low < high) {
      var mid = (low + high) >> 1;
      if (isPast(elements[mid].getBoundingClientRect())) high = mid; else low = mid + 1;
    }
    return low;
  }

  function markFar(elements, laid) {
    elements.forEach(function (el, i) {
      var far = i >= laid.near;
      if (el.classList.contains("is-far") !== far) el.classList.toggle("is-far", far);
    });
  }

  // The first element past the edge (`pastEdge()`, asked after each layout, gives the test),
  // laying out more elements while every one laid out is within it.
  function firstPastLaidOut(elements, laid, pastEdge) {
    for (;;) {
      var near = laid.near >= elements.length ? elements : elements.slice(0, laid.near);
      var first = firstPast(near, pastEdge());
      if (first < near.length || near.length === elements.length) return first;
      laid.near = laid.near * 2 + laid.margin;
      markFar(elements, laid);
    }
  }

  function bottomPast(edge) { // a row ending below the edge's bottom
    return function () {
      var bottom = edge.getBoundingClientRect().bottom + 1;
      return function (box) { return box.bottom > bottom; };
    };
  }

  function callRows(list) {
    return Array.prototype.filter.call(list.children, function (row) { return row.localName === "article" && row.classList.contains("call"); });
  }

  // The rows of `list` (marked far as they were) fitted; returns the rows it showed again.
  function fitLiveCalls(list, rows) {
    var more = document.querySelector("[data-more-calls]");
    if (!list || !more) return [];
    var first = firstPastLaidOut(rows, rowsLaid, bottomPast(list));
    if (more.hidden && first < rows.length) {
      more.hidden = false; // its own line takes room too: count again with it shown
      first = firstPastLaidOut(rows, rowsLaid, bottomPast(list));
    } else if (!more.hidden && first < rows.length + 1) {
      // Would every row fit in the room the line takes?
      if (firstPastLaidOut(rows, rowsLaid, bottomPast(more)) >= rows.length) {
        more.hidden = true;
        first = rows.length;
      }
    }
    rowsLaid.near = first + rowsLaid.margin;
    markFar(rows, rowsLaid);
    var shown = [];
    rows.forEach(function (row, i) {
      var over = i >= first;
      if (row.hidden) row.hidden = false; // hidden by an older version of this script
      if (row.classList.contains("is-overflow") === over) return;
      row.classList.toggle("is-overflow", over);
      if (!over) shown.push(row);
    });
    var hidden = rows.length - first;
    var text = "+" + hidden + " more " + (hidden === 1 ? "call" : "calls");
    if (!more.hidden) countLater(more, text);
    return shown;
  }

  // A TV's tiles are fitted as its live rows are: a tile that would be cut at the bottom of its
  // grid is hidden (visibility only) and counted, "+12 more extensions", on a line of its own
  // under the grid (made here: a grid pushed whole comes without it); from a few past the first
  // hidden one on, tiles are not rendered (tiles fill rows in order: every later one is cut
  // too). Returns those it rendered or showed again. The desk's grid scrolls: all of its tiles
  // are rendered and shown.
  // A tile changed in place keeps its marks: the tiles are marked again when the tiles laid out
  // change, or when other tiles come (a grid pushed whole, a tile not changed in place: apply()
  // forgets the tiles then).
  var tilesMarked = { grid: null, tiles: [] };

  function forgetTiles() {
    tilesMarked = { grid: null, tiles: [] };
  }

  function moreTilesLine(section) {
    var more = section.querySelector("[data-more-tiles]");
    if (!more) {
      more = document.createElement("p");
      more.className = "more-tiles";
      more.setAttribute("data-more-tiles", "");
      more.hidden = true;
      section.appendChild(more);
    }
    return more;
  }

  function fitTiles() {
    var section = document.getElementById("grid");
    var grid = section && section.querySelector(".grid");
    if (!grid || !document.body.classList.contains("tv")) return [];
    var wasFar = [];
    if (tilesMarked.grid !== section) {
      tilesMarked = { grid: section, tiles: Array.prototype.slice.call(section.getElementsByClassName("tile")) };
      wasFar = tilesMarked.tiles.filter(function (tile) { return tile.classList.contains("is-far"); });
      markFar(tilesMarked.tiles, tilesLaid); // a new grid's timers were set as it came
    }
    var tiles = tilesMarked.tiles;
    var more = moreTilesLine(section);
    var before = tilesLaid.near;
    var first = firstPastLaidOut(tiles, tilesLaid, bottomPast(grid));
    if (more.hidden && first < tiles.length) {
      more.hidden = false; // its own line takes room too: count again with it shown
      first = firstPastLaidOut(tiles, tilesLaid, bottomPast(grid));
    } else if (!more.hidden && firstPastLaidOut(tiles, tilesLaid, bottomPast(more)) >= tiles.length) {
      more.hidden = true; // every tile fits in the room the line takes
      first = tiles.length;
    }
    var laid = tilesLaid.near; // more than before if every one laid out was seen
    tilesLaid.near = first + tilesLaid.margin;
    if (tilesLaid.near !== laid) markFar(tiles, tilesLaid);
    var shown = before < tilesLaid.near ? tiles.slice(before, tilesLaid.near) : [];
    tiles.forEach(function (tile, i) {
      var over = i >= first;
      if (tile.classList.contains("is-overflow") === over) return;
      tile.classList.toggle("is-overflow", over);
      if (!over && shown.indexOf(tile) < 0) shown.push(tile);
    });
    var hidden = tiles.length - first, ringing = 0;
    for (var i = first; i < tiles.length; i++) if (tiles[i].classList.contains("is-ringing")) ringing += 1;
    // A phone ringing where the screen cannot show it is what the room must still see.
    var text = "+" + hidden + " more " + (hidden === 1 ? "extension" : "extensions") +
      (ringing ? ", " + ringing + " ringing" : "");
    if (!more.hidden) countLater(more, text);
    return shown.concat(wasFar.filter(function (tile) { return !tile.classList.contains("is-far") && shown.indexOf(tile) < 0; }));
  }

  function readServerTime() {
    var counters = document.getElementById("counters");
    var serverNow = counters && Number(counters.getAttribute("data-server-now"));
    if (serverNow) clockOffset = serverNow - Date.now();
  }

  function setConnection(state) {
    document.body.classList.remove("is-live", "is-offline", "is-connecting");
    document.body.classList.add("is-" + state);
  }

  // Announce each new ringing call to screen readers, politely, once per call.
  var announced = new Set(); // the ids of the calls announced, while they are on the board

  function forgetAnnouncedGone() {
    announced.forEach(function (id) { if (!document.getElementById(id)) announced.delete(id); });
  }

  function announceRinging(call) {
    var announcer = document.getElementById("announcer");
    if (!announcer || !call.matches("article.call.is-ringing") || announced.has(call.id)) return;
    announced.add(call.id);
    var number = call.querySelector(".call-number");
    announcer.textContent = "Ringing: " + (number ? number.textContent : "a call");
  }

  function watchForRingingCalls() {
    var board = document.querySelector("main");
    var announcer = document.getElementById("announcer");
    if (!board || !announcer || !window.MutationObserver) return;
    document.querySelectorAll("article.call.is-ringing").forEach(function (call) { announced.add(call.id); });
    new MutationObserver(function (mutations) {
      mutations.forEach(function (mutation) {
        mutation.addedNodes.forEach(function (node) {
          if (!node.querySelectorAll) return;
          var calls = node.matches("article.call.is-ringing") ? [node] : node.querySelectorAll("article.call.is-ringing");
          calls.forEach(announceRinging);
        });
      });
    }).observe(board, { childList: true, subtree: true });
  }

  // Toasts say how an action went, then leave by themselves.
  function expireToasts() {
    var toasts = document.getElementById("toasts");
    if (!toasts || !window.MutationObserver) return;
    new MutationObserver(function (mutations) {
      mutations.forEach(function (mutation) {
        mutation.addedNodes.forEach(function (node) {
          if (node.nodeType === 1) setTimeout(function leave() { // not while being read
            if (node.matches(":hover, :focus-within") || node.querySelector("details[open]")) setTimeout(leave, 2000);
            else node.remove();
          }, 8000);
        });
      });
    }).observe(toasts, { childList: true });
  }

  // The call pop-up: a desktop notification and a chime for each new one (when allowed),
  // and a Dismiss button that hides it on this page only.
  var popupsSeen = new Set();
  var audio = null;

  function soundOn() { return window.localStorage && localStorage.getItem("dashboard.sound") === "on"; }

  function chime(always) {
    if (!always && !soundOn()) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.35].forEach(function (start) {
        var tone = audio.createOscillator(), gain = audio.createGain();
        tone.frequency.value = 880;
        gain.gain.setValueAtTime(0.15, audio.currentTime + start);
        gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + start + 0.3);
        tone.connect(gain).connect(audio.destination);
        tone.start(audio.currentTime + start);
        tone.stop(audio.currentTime + start + 0.3);
      });
    } catch (e) { /* no sound on this browser */ }
  }

  function announcePopup(popup) {
    if (popupsSeen.has(popup.id)) return;
    popupsSeen.add(popup.id);
    if (!popup.classList.contains("is-ringing")) return;
    chime();
    if (window.Notification && Notification.permission === "granted") {
      var number = popup.querySelector(".popup-number"), name = popup.querySelector(".popup-name");
      new Notification("Incoming call", {
        body: (number ? number.textContent.trim() : "") + (name ? " · " + name.textContent.trim() : ""),
        tag: popup.id,
      });
    }
  }

  function watchPopups() {
    var area = document.querySelector(".popups-area");
    if (!area || !window.MutationObserver) return;
    area.querySelectorAll("[data-popup]").forEach(announcePopup);
    new MutationObserver(function () {
      area.querySelectorAll("[data-popup]").forEach(announcePopup);
    }).observe(area, { childList: true, subtree: true });
    var sound = area.querySelector("[data-toggle-sound]");
    if (sound) sound.setAttribute("aria-pressed", soundOn() ? "true" : "false");
  }

  document.addEventListener("click", function (evt) {
    var target = evt.target;
    if (!(target instanceof Element)) return;
    var dismiss = target.closest("[data-dismiss]");
    if (dismiss) { var popup = dismiss.closest("[data-popup]"); if (popup) popup.remove(); }
    if (target.closest("[data-enable-notifications]") && window.Notification) Notification.requestPermission();
    var sound = target.closest("[data-toggle-sound]");
    if (sound && window.localStorage) {
      localStorage.setItem("dashboard.sound", soundOn() ? "off" : "on");
      sound.setAttribute("aria-pressed", soundOn() ? "true" : "false");
      if (soundOn()) chime();
    }
  });

  function applyBoardSettings() {
    var body = document.body;
    var linger = Number(body.getAttribute("data-linger"));
    if (linger > 0) document.documentElement.style.setProperty("--linger", linger + "s");
    timeZone = body.getAttribute("data-timezone") || undefined;
  }

  document.addEventListener("DOMContentLoaded", function () {
    // A wall screen's kiosk link signs in by itself (a GET only shows the form).
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) { form.submit(); });
    if (window.htmx) {
      // Reconnect quickly at first, then back off, but never wait more than 10 s.
      htmx.config.wsReconnectDelay = function (retry) {
        return Math.min(10000, 500 * Math.pow(2, retry)) * (0.5 + Math.random() / 2);
      };
    }
    applyBoardSettings();
    watchForRingingCalls();
    expireToasts();
    watchPopups();
    readServerTime();
    tick();
    setInterval(tick, 1000);
  });
  // Live once the socket's first message (the board's snapshot) is applied: what changed
  // while it was down shows before the board says it is live again.
  var awaitingSnapshot = false;
  document.addEventListener("htmx:wsOpen", function () { awaitingSnapshot = true; });
  document.addEventListener("htmx:wsAfterMessage", function () {
    if (!awaitingSnapshot) return;
    awaitingSnapshot = false;
    setConnection("live");
  });
  document.addEventListener("htmx:wsClose", function (evt) {
    var code = evt.detail && evt.detail.event && evt.detail.event.code;
    if (code === 1008) { // signed out, or the session was ended: no reconnecting
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
      return;
    }
    if (code === 4404) { // the board's group is no more: the page says so
      window.location.reload();
      return;
    }
    setConnection("offline");
  });

  // What the socket pushes, applied once per animation frame. Each message is fragments with
  // hx-swap-oob; in a frame's messages the latest fragment for an element replaces the
  // earlier ones (a row added then changed is added as it is now), and the survivors are
  // applied in the order of their latest arrival, which is what applying every message in
  // turn would leave. A fragment with nothing for htmx to wire, replacing an element with
  // nothing either, is swapped in directly; anything else goes through htmx as before.
  var htmxApi = null;
  var queued = []; // messages not yet applied
  var frameRequest = null, frameTimeout = null;
  var HTMX_ATTRIBUTE = /^(data-)?(hx-|ws-)/;
  // Messages in which no attribute can be one for htmx: nothing in them needs wiring.
  var HTMX_MARKUP = /\s(data-)?(hx-(?!swap-oob=)|ws-)/i;
  var plainElements = new WeakSet(); // swapped in directly: nothing for htmx in them

  if (window.htmx) {
    htmx.defineExtension("wallboard-frames", { init: function (api) { htmxApi = api; } });
  }

  document.addEventListener("htmx:wsBeforeMessage", function (evt) {
    if (!htmxApi || typeof evt.detail.message !== "string") return;
    evt.preventDefault(); // this script applies it, with the rest of the frame's
    queued.push({ message: evt.detail.message, socket: evt.target, socketWrapper: evt.detail.socketWrapper });
    scheduleFrame();
  });

  // Plain loops, here and in morph(): a TV runs them for every element of every push, and
  // the arrays and closures they would make are garbage its collector must pause for.
  function wiredByHtmx(el) {
    if (!el) return false;
    if (hasHtmxAttribute(el)) return true;
    var all = el.getElementsByTagName("*");
    for (var i = 0; i < all.length; i++) if (hasHtmxAttribute(all[i])) return true;
    return false;
  }

  function hasHtmxAttribute(node) {
    var attributes = node.attributes;
    for (var i = 0; i < attributes.length; i++) {
      var name = attributes[i].name;
      if (name !== "hx-swap-oob" && HTMX_ATTRIBUTE.test(name)) return true;
    }
    return false;
  }

  function wiredNow(el) {
    return Boolean(el) && !plainElements.has(el) && wiredByHtmx(el);
  }

  // One fragment as an operation: {key, swap, target (a selector), element, plain}; plain:
  // its message has nothing for htmx (so it need not be looked through).
  function operationOf(el, plain) {
    var op = operationParts(el);
    op.plain = plain;
    return op;
  }

  function operationParts(el) {
    var swap = el.getAttribute("hx-swap-oob") || "true";
    var colon = swap.indexOf(":");
    if (colon > 0) { // "afterbegin:#live-calls": its children go at the top of the list
      var only = el.children.length === 1 ? el.firstElementChild : null;
      var key = only && only.id ? "#" + only.id : null;
      return { key: key, swap: swap.slice(0, colon), target: swap.slice(colon + 1), element: el, child: only };
    }
    return { key: el.id ? "#" + el.id : null, swap: swap === "true" ? "outerHTML" : swap, element: el };
  }

  // The latest operation for a key wins; an element added, then replaced, stays an addition.
  function coalesce(operations, op) {
    if (op.key === null) { operations.set(Symbol("unkeyed"), op); return; }
    var earlier = operations.get(op.key);
    operations.delete(op.key); // so that it goes at the end: the order of latest arrival
    if (earlier && earlier.swap === "afterbegin" && op.swap === "outerHTML") {
      op.element.removeAttribute("hx-swap-oob");
      earlier.element.replaceChildren(op.element);
      earlier.child = op.element;
      op = earlier;
    }
    operations.set(op.key, op);
  }

  // A frame's work is cut into slices of about SLICE_MS, one per animation frame, so that no
  // task runs long (a busy TV's frame of a hundred changes took 60-90 ms): what is left waits
  // for the next frame, where a later version of one of its elements still wins. A slice's
  // time is its script and arrange()'s, which reads the layout back: a part of its own (the
  // list laid out as it is) and the styling and layout of what the slice changed (as much as
  // the script or more), both learnt from every slice before. Operations get at least
  // OPERATIONS_MIN_MS of a slice however long arrange() takes, and a backlog is applied within
  // DRAIN_FRAMES frames whatever the slices cost: on a page whose layout was slow (a big TV, a
  // slow stick, a busy machine) one change a frame fell ten seconds behind a burst of calls.
  // htmx:wsAfterMessage is triggered once every operation of its message is applied.
  // 8 ms slices made tasks of 15-30 ms of CPU (the style, layout, paint and garbage collection
  // after the script), which the page's own background threads stretched past 50 ms.
  var SLICE_MS = 4, OPERATIONS_MIN_MS = 2, DRAIN_FRAMES = 30;
  var arrangeMs = 2, layoutMsPerOperation = 0.3;

  function arrangeTimed(operations) {
    var started = performance.now();
    arrange();
    var ms = performance.now() - started;
    // ms is about arrangeMs + operations * layoutMsPerOperation: each learns what the other leaves.
    arrangeMs = 0.7 * arrangeMs + 0.3 * Math.max(0, ms - operations * layoutMsPerOperation);
    if (operations) layoutMsPerOperation = 0.7 * layoutMsPerOperation + 0.3 * Math.max(0, ms - arrangeMs) / operations;
  }

  function operationsBudget(frameTime) {
    // A timeout: all at once. A page in the background gets no frames; one in view whose
    // frames come more than a second apart would fall far behind a slice a frame.
    if (typeof frameTime !== "number") return Infinity;
    return Math.max(SLICE_MS - arrangeMs, OPERATIONS_MIN_MS);
  }
  var pending = new Map(); // operations not yet applied, in the order they are to be
  var pendingSocket = null;
  var appliedMessages = []; // messages whose operations are pending, or applied in this slice
  var leastPerSlice = 1; // operations each slice applies whatever its time, until none are pending

  function applyQueued(frameTime) {
    var budget = operationsBudget(frameTime);
    cancelAnimationFrame(frameRequest);
    clearTimeout(frameTimeout);
    frameRequest = frameTimeout = null;
    var started = performance.now(); // a big batch's parsing counts in its first slice
    var messages = queued;
    queued = [];
    if (messages.length) {
      var template = document.createElement("template");
      var markup = messages.map(function (m) { return m.message; }).join("");
      var plain = !HTMX_MARKUP.test(markup);
      template.innerHTML = markup;
      var fragment = template.content;
      fragment.querySelectorAll("script").forEach(function (script) { script.remove(); });
      Array.from(fragment.children).forEach(function (el) { coalesce(pending, operationOf(el, plain)); });
      pendingSocket = messages[messages.length - 1].socket;
      appliedMessages = appliedMessages.concat(messages);
      leastPerSlice = Math.max(leastPerSlice, Math.ceil(pending.size / DRAIN_FRAMES));
    }
    if (!pending.size) return;
    tickTimers(); // if a tick is due: before the slice's operations, its time in their budget
    var added = [];
    var settleInfo = htmxApi.makeSettleInfo(pendingSocket);
    var entries = pending.entries(), applied = 0;
    for (var entry = entries.next(); !entry.done; entry = entries.next()) {
      pending.delete(entry.value[0]);
      apply(entry.value[1], settleInfo, added);
      applied += 1;
      if (applied >= leastPerSlice && performance.now() - started + applied * layoutMsPerOperation > budget) break;
    }
    htmxApi.settleImmediately(settleInfo.tasks);
    readServerTime();
    updateTimers(timersIn(added), Date.now() + clockOffset);
    arrangeTimed(applied);
    if (pending.size) {
      scheduleFrame();
      return;
    }
    leastPerSlice = 1;
    var done = appliedMessages;
    appliedMessages = [];
    done.forEach(function (m) { // as htmx's ws extension does for each message it applies
      htmxApi.triggerEvent(m.socket, "htmx:wsAfterMessage", { message: m.message, socketWrapper: m.socketWrapper });
    });
  }

  function scheduleFrame() {
    if (frameRequest !== null) return;
    frameRequest = requestAnimationFrame(applyQueued);
    // A page in the background gets no animation frames: do not let messages pile up.
    frameTimeout = setTimeout(applyQueued, 1000);
  }

  function isTileOrGrid(el) {
    return Boolean(el) && el.nodeType === 1 && (el.id === "grid" || el.classList.contains("tile"));
  }

  function apply(op, settleInfo, added) {
    var existing = op.key ? document.getElementById(op.key.slice(1)) : null;
    var el = op.child || op.element;
    var direct = op.key !== null && (op.swap === "delete" ||
      ((op.swap === "outerHTML" || (op.swap === "afterbegin" && op.child)) &&
       (op.plain || !wiredByHtmx(op.child || op.element)) && !wiredNow(existing)));
    // Tiles but one changed in place: those marked may not be the grid's any more.
    var inPlace = direct && op.swap === "outerHTML" && existing && existing.id !== "grid" && sameNode(existing, el);
    if ((isTileOrGrid(existing) || isTileOrGrid(el)) && !inPlace) forgetTiles();
    if (!direct) {
      var swap = op.swap === "outerHTML" ? "true" : op.target ? op.swap + ":" + op.target : op.swap;
      htmxApi.oobSwap(swap, op.element, settleInfo);
      return;
    }
    if (op.swap === "delete") {
      if (existing) existing.remove();
      return;
    }
    el.removeAttribute("hx-swap-oob");
    if (op.swap === "outerHTML" || existing) { // an addition of what is there already replaces it
      if (!existing) return; // nothing to replace: htmx would drop it too
      // A row or tile out of sight stays so until what fits is counted again.
      if (el.matches("article.call, article.tile")) {
        ["is-overflow", "is-far"].forEach(function (name) { if (existing.classList.contains(name)) el.classList.add(name); });
      }
      if (sameNode(existing, el)) {
        morph(existing, el);
        el = existing;
        announceRinging(el); // not added, so the observer does not see it
      } else {
        existing.replaceWith(el);
      }
    } else {
      var target = document.querySelector(op.target);
      if (!target) return;
      target.prepend(el);
    }
    plainElements.add(el); // as its new version: nothing for htmx in it
    added.push(el);
  }

  // The same node in two versions: of one kind, with the same id and the same first class
  // (a tile's first line is never made its second).
  function sameNode(a, b) {
    return a.nodeType === b.nodeType && a.nodeName === b.nodeName && a.namespaceURI === b.namespaceURI &&
      (a.nodeType !== 1 || (a.id === b.id && firstClass(a) === firstClass(b)));
  }

  function firstClass(el) {
    return (el.getAttribute("class") || "").split(" ", 1)[0];
  }

  // An element replaced by its new version is changed in place instead: its attributes and
  // text become the new version's, nodes of another kind are swapped. A wall's tile or row
  // changing state changes a class and a few words, and only those are styled and laid out
  // again, not a whole new subtree (a busy TV's frames took over 50 ms laying out new tiles).
  function morph(into, from) {
    urgencyKeys.delete(into);
    var attributes = from.attributes, i;
    for (i = 0; i < attributes.length; i++) {
      var name = attributes[i].name, value = attributes[i].value;
      if (into.getAttribute(name) !== value) into.setAttribute(name, value);
    }
    attributes = into.attributes; // a live list: removing from its end keeps the rest in place
    for (i = attributes.length - 1; i >= 0; i--) {
      if (!from.hasAttribute(attributes[i].name)) into.removeAttribute(attributes[i].name);
    }
    var at = into.firstChild;
    for (var node = from.firstChild; node; ) {
      var next = node.nextSibling;
      if (at && sameNode(at, node)) {
        if (at.nodeType === 1) morph(at, node);
        else if (at.nodeValue !== node.nodeValue) at.nodeValue = node.nodeValue;
        at = at.nextSibling;
      } else {
        into.insertBefore(node, at);
      }
      node = next;
    }
    while (at) {
      var after = at.nextSibling;
      into.removeChild(at);
      at = after;
    }
  }

  // small: an agent's pop-up collapsed to one line stays collapsed for the rest of its call,
  // across pushes (which replace it) and pages, remembered by its id (one per call) in this
  // browser's storage; the newest few dozen ids are kept.
  var COLLAPSED = "dashboard.popups.collapsed";

  function collapsedIds() {
    try { return JSON.parse((window.localStorage && localStorage.getItem(COLLAPSED)) || "[]"); } catch (e) { return []; }
  }

  function showCollapsed(popup, collapsed) {
    popup.classList.toggle("is-collapsed", collapsed);
    var button = popup.querySelector("[data-collapse-popup]");
    if (button) button.setAttribute("aria-expanded", collapsed ? "false" : "true");
  }

  function applyCollapsedPopups() {
    var ids = collapsedIds();
    document.querySelectorAll("[data-popup]").forEach(function (popup) {
      showCollapsed(popup, ids.indexOf(popup.id) >= 0);
    });
  }

  function rememberCollapsed(id, collapsed) {
    var ids = collapsedIds().filter(function (other) { return other !== id; });
    if (collapsed) ids.push(id);
    try { localStorage.setItem(COLLAPSED, JSON.stringify(ids.slice(-50))); } catch (e) { /* private mode */ }
  }

  document.addEventListener("click", function (evt) {
    var button = evt.target instanceof Element && evt.target.closest("[data-collapse-popup]");
    var popup = button && button.closest("[data-popup]");
    if (!popup) return;
    var collapsed = !popup.classList.contains("is-collapsed");
    rememberCollapsed(popup.id, collapsed);
    showCollapsed(popup, collapsed);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var area = document.querySelector(".popups-area");
    applyCollapsedPopups();
    // Only elements added or removed wake it: its own class changes do not loop.
    if (area && window.MutationObserver) {
      new MutationObserver(applyCollapsedPopups).observe(area, { childList: true, subtree: true });
    }
  });
})();
