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
})();
