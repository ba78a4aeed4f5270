// Call actions that cannot misfire (no inline script: the CSP forbids it).
// - [data-dial] buttons (every phone number, partials/macros.html) dial on a second deliberate
//   press: the first arms the button ("Call 98765 43210?"), a second press within ARM_MS dials;
//   Escape, a click or focus elsewhere, or the time running out disarm it. A press while the
//   call is being placed (and for CALM_MS after) does nothing.
// - every request from inside a [data-idempotent] element, or from a [data-dial] button, carries
//   an Idempotency-Key: one per armed press, or (a form) one until its fields change, so a
//   double submit is the same action to the server (409 the second time).
// - the transfer box's list of extensions (partials/transfer_targets.html): a pick fills the
//   box; arrows move through the list, Escape closes it.
// - a row's commands (hang up, transfer; buttons with data-busy): while one is out, the row's
//   command buttons are disabled and the one pressed says what is happening ("Hanging up…"),
//   across the pushes that redraw the row; how it went shows in the row for a moment
//   (.call-outcome) as well as in the toast, which alone is read out (the row's copy is
//   hidden from screen readers: they heard every outcome twice).
// - a click on a row's command is ignored, and says so in the row, if that row appeared or
//   moved in the last MOVED_MS (a call ended, came or rose above it): it was aimed at another.
// - an agent's toasts go in the pop-ups' column (partials/popups_area.html), above its
//   buttons and pop-ups: neither covers the other.
(function () {
  "use strict";
  var ARM_MS = 5000, CALM_MS = 1500, GIVE_UP_MS = 10000; // the PBX answers within 5 s
  var armed = null, disarmTimer = 0, sequence = 0;

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    sequence += 1;
    return Date.now().toString(36) + "-" + sequence + "-" + Math.random().toString(36).slice(2);
  }

  function dialFrom() {
    var from = document.getElementById("dial-extension");
    if (from && from.value.trim()) return from.value.trim();
    var box = document.querySelector("#dial[data-from]");
    return box ? box.getAttribute("data-from") : "";
  }

  function disarm() {
    if (!armed) return;
    armed.classList.remove("is-armed");
    armed.removeAttribute("aria-label");
    clearTimeout(disarmTimer);
    armed = null;
  }

  function arm(button) {
    disarm();
    armed = button;
    button.setAttribute("data-idempotency-key", newKey());
    var extension = dialFrom(), from = extension ? " from " + extension : "";
    button.setAttribute("data-armed-from", from); // shown by app.css around the number
    button.setAttribute("aria-label", "Call " + button.textContent.trim() + from + "?");
    button.classList.add("is-armed");
    disarmTimer = setTimeout(disarm, ARM_MS);
  }

  function dial(button) {
    clearTimeout(disarmTimer);
    armed = null;
    button.classList.remove("is-armed");
    button.classList.add("is-calling");
    button.setAttribute("aria-label", "Calling " + button.textContent.trim() + "…");
    setTimeout(function () { calm(button); }, GIVE_UP_MS); // should no answer ever come
    htmx.trigger(button, "dial");
  }

  function calm(button) {
    button.classList.remove("is-calling");
    button.removeAttribute("aria-label");
    button.removeAttribute("data-idempotency-key");
  }

  document.addEventListener("click", function (evt) {
    var target = evt.target;
    var choice = target instanceof Element ? target.closest("[data-transfer-to]") : null;
    if (choice) pick(choice);
    var button = target instanceof Element ? target.closest("[data-dial]") : null;
    if (!button) { disarm(); return; }
    evt.preventDefault();
    if (button.classList.contains("is-calling")) return; // the call is being placed
    if (button === armed) dial(button);
    else arm(button);
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape") disarm();
    moveInTransferList(evt);
  });

  // The transfer list: a pick fills the box and leaves the Transfer button to press.
  function transferBox(element) {
    var row = element.closest("article");
    return row ? row.querySelector(".act-transfer input[name=extension]") : null;
  }

  function pick(choice) {
    var box = transferBox(choice), list = choice.closest(".tx-targets");
    if (!box) return;
    box.value = choice.getAttribute("data-transfer-to");
    if (list) list.replaceChildren();
    var submit = box.form && box.form.querySelector("button[type=submit]");
    if (submit) submit.focus();
  }

  function moveInTransferList(evt) {
    var target = evt.target;
    if (!(target instanceof Element)) return;
    var inBox = target.matches(".act-transfer input[name=extension]");
    var choice = target.closest("[data-transfer-to]");
    if (!inBox && !choice) return;
    var row = target.closest("article"), list = row && row.querySelector(".tx-targets");
    if (!list) return;
    var choices = Array.prototype.slice.call(list.querySelectorAll("[data-transfer-to]"));
    if (evt.key === "Escape") {
      list.replaceChildren();
      if (choice) { var box = transferBox(choice); if (box) box.focus(); }
      return;
    }
    var step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[evt.key];
    if (!step || !choices.length || (inBox && step < 0)) return;
    if (inBox && evt.key !== "ArrowDown") return; // left and right move in the text
    evt.preventDefault();
    var next = inBox ? 0 : choices.indexOf(choice) + step;
    if (next < 0) { var own = transferBox(choice); if (own) own.focus(); return; }
    if (next < choices.length) choices[next].focus();
  }

  document.addEventListener("mousedown", function (evt) {
    var target = evt.target;
    // Keep the focus in the row (some browsers do not focus a pressed button): the list stays.
    if (target instanceof Element && target.closest("[data-transfer-to]")) evt.preventDefault();
  });
  document.addEventListener("focusout", function (evt) {
    if (armed && evt.target === armed) disarm();
  });

  document.addEventListener("htmx:configRequest", function (evt) {
    var elt = evt.detail.elt;
    if (!(elt instanceof Element)) return;
    var holder = elt.closest("[data-dial], [data-idempotent]");
    if (!holder) return;
    var key = holder.getAttribute("data-idempotency-key");
    if (!key) {
      key = newKey();
      holder.setAttribute("data-idempotency-key", key);
    }
    evt.detail.headers["Idempotency-Key"] = key;
  });
  document.addEventListener("input", function (evt) {
    var target = evt.target;
    var form = target instanceof Element ? target.closest("[data-idempotent]") : null;
    if (form) form.removeAttribute("data-idempotency-key"); // another call: another action
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var button = evt.detail.elt;
    if (!(button instanceof Element) || !button.matches("[data-dial]")) return;
    setTimeout(function () { calm(button); }, CALM_MS);
  });

  // A row's commands: one at a time, saying so. `sending`: row id -> {words: the pressed
  // button's busy words}, while its command is out (the row may be redrawn meanwhile: a new element).
  var OUTCOME_MS = 6000, MOVED_MS = 500;
  var sending = new Map(), outcomeTimers = new Map();

  function rowCommand(elt) { // {row, button} of a row's command (a button or its form), or null
    if (!(elt instanceof Element)) return null;
    var button = elt.matches("button[data-busy]") ? elt : elt.matches("form") ? elt.querySelector("button[data-busy]") : null;
    var row = button && button.closest("article.call[id]");
    return row ? { row: row, button: button } : null;
  }

  function showSending(row) {
    var out = sending.get(row.id), busy = out ? out.words : null;
    row.querySelectorAll("button[data-busy]").forEach(function (button) {
      if (busy && !button.hasAttribute("data-idle")) button.setAttribute("data-idle", button.textContent);
      var idle = button.getAttribute("data-idle");
      var words = busy && button.getAttribute("data-busy") === busy ? busy : idle;
      // Not `disabled`: a disabled button loses the keyboard's focus; presses are ignored below.
      if (busy) button.setAttribute("aria-disabled", "true"); else button.removeAttribute("aria-disabled");
      // Only a change: the observer below is told of every text set, and calls this again.
      if (words !== null && button.textContent !== words) button.textContent = words;
      if (!busy) button.removeAttribute("data-idle");
    });
  }

  function doneSending(id) {
    if (!sending.delete(id)) return;
    var row = document.getElementById(id);
    if (row) showSending(row);
  }

  // `inToast`: the words are the toast's too, which is what a screen reader reads out.
  function showOutcome(id, ok, words, inToast) {
    var out = document.getElementById("out-" + id);
    if (!out) return;
    if (inToast) out.setAttribute("aria-hidden", "true"); else out.removeAttribute("aria-hidden");
    out.textContent = words;
    out.classList.toggle("is-error", !ok);
    clearTimeout(outcomeTimers.get(id));
    outcomeTimers.set(id, setTimeout(function () {
      outcomeTimers.delete(id);
      var current = document.getElementById("out-" + id); // the same one: it is preserved
      if (current) current.textContent = "";
    }, OUTCOME_MS));
  }

  function toldIn(xhr) { // the toast's words and whether it went well, from the response
    var holder = document.createElement("template"); // inert: nothing in it runs or loads
    holder.innerHTML = xhr && xhr.responseText ? xhr.responseText : "";
    var toast = holder.content.querySelector(".toast"), words = toast && toast.querySelector(".toast-words");
    return words ? { ok: toast.classList.contains("is-ok"), words: words.textContent.trim() } : null;
  }

  document.addEventListener("htmx:beforeRequest", function (evt) {
    var command = rowCommand(evt.detail.elt);
    if (!command) return;
    var id = command.row.id;
    if (sending.has(id)) { evt.preventDefault(); return; } // one command at a time per row
    var out = { words: command.button.getAttribute("data-busy") };
    sending.set(id, out);
    showSending(command.row);
    setTimeout(function () { // should no answer ever come (and not a later command's)
      if (sending.get(id) === out) doneSending(id);
    }, GIVE_UP_MS);
    // The answer, told by the request itself: a push may have replaced the row meanwhile, and
    // htmx tells only the element that asked, which is then out of the page.
    var xhr = evt.detail.xhr;
    if (xhr) xhr.addEventListener("loadend", function () {
      if (sending.get(id) !== out) return;
      doneSending(id);
      var told = toldIn(xhr);
      if (told) showOutcome(id, told.ok, told.words, true);
    });
  });

  // Where each row with controls is, and since when: a row that just came or moved is not
  // where the person aimed. Offsets within the list: scrolling moves nothing.
  var places = new Map(); // row id -> {at: "top,left", since: performance.now()}

  function notePlaces(initial) {
    var now = initial ? -Infinity : performance.now(), seen = new Set();
    document.querySelectorAll("article.call[id] > .call-actions").forEach(function (actions) {
      var row = actions.parentElement;
      if (!row.offsetParent) return; // not shown
      var at = row.offsetTop + "," + row.offsetLeft, known = places.get(row.id);
      if (!known || known.at !== at) places.set(row.id, { at: at, since: now });
      seen.add(row.id);
    });
    places.forEach(function (_, id) { if (!seen.has(id)) places.delete(id); });
  }

  function justMoved(row) {
    notePlaces(false); // a move no mutation told of yet
    var known = places.get(row.id);
    return Boolean(known) && performance.now() - known.since < MOVED_MS;
  }

  function changedRows(mutations) { // anything but the timers' ticking and the toasts
    return mutations.some(function (mutation) {
      var target = mutation.target;
      return !(target instanceof Element && target.closest("time, #toasts"));
    });
  }

  document.addEventListener("click", function (evt) { // read, it leaves
    var out = evt.target instanceof Element ? evt.target.closest(".call-outcome") : null;
    if (out) out.textContent = "";
  });
  var MOVED_WORDS = "The list moved as you clicked, so nothing was done: click again if this is the call.";
  var pressed = null; // {command, id} of the row command the pointer went down on
  function commandOf(button) { // which of its row's commands (the row may be redrawn: a new element)
    var form = button.closest("form");
    return button.className + "|" + (form ? form.className : "");
  }
  window.addEventListener("mousedown", function (evt) {
    var target = evt.target, button = target instanceof Element ? target.closest(".call-actions button") : null;
    var row = button && button.closest("article.call[id]");
    pressed = row ? { command: commandOf(button), id: row.id } : null;
  }, true);
  window.addEventListener("click", function (evt) {
    var target = evt.target, button = target instanceof Element ? target.closest(".call-actions button") : null;
    var row = button && button.closest("article.call[id]");
    var wasPressed = pressed;
    pressed = null;
    if (button && button.getAttribute("aria-disabled") === "true") { // its row's command is out
      evt.preventDefault();
      evt.stopImmediatePropagation();
      return;
    }
    if (evt.detail === 0) return; // from the keyboard: the focus moved with its row
    if (wasPressed && !(row && row.id === wasPressed.id && commandOf(button) === wasPressed.command)) {
      // went down on a command, came up elsewhere: what was under the pointer moved
      evt.preventDefault();
      evt.stopImmediatePropagation();
      showOutcome(wasPressed.id, false, MOVED_WORDS);
      return;
    }
    if (!row || !justMoved(row)) return;
    evt.preventDefault();
    evt.stopImmediatePropagation();
    showOutcome(row.id, false, MOVED_WORDS);
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    var area = document.querySelector(".popups-area"), toasts = document.getElementById("toasts");
    if (area && toasts) area.prepend(toasts);
    if (!document.querySelector(".has-controls") || !window.MutationObserver) return;
    notePlaces(true);
    new MutationObserver(function (mutations) {
      if (!changedRows(mutations)) return;
      sending.forEach(function (_, id) { var row = document.getElementById(id); if (row) showSending(row); });
      notePlaces(false);
    }).observe(document.body, { childList: true, subtree: true });
    // What moves rows with no element added or removed: a transfer list shown or hidden by
    // the focus (app.css), the window's size.
    ["focusin", "focusout", "resize"].forEach(function (name) {
      window.addEventListener(name, function () { requestAnimationFrame(function () { notePlaces(false); }); });
    });
  });
})();
