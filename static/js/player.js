// The recording player (templates/partials/player.html), wired by data attributes (no inline
// script: the CSP forbids it). Players added later by htmx are set up when they arrive.
// Keys, while the player has the focus: Space play/pause, Left/Right 10 s back/forward,
// [ and ] slower/faster.
(function () {
  "use strict";
  var SKIP_SECONDS = 10;

  function format(seconds) {
    if (!isFinite(seconds)) return "–:––";
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(s).padStart(2, "0");
  }

  function withParam(url, param) {
    return url + (url.indexOf("?") < 0 ? "?" : "&") + param;
  }

  // Why the audio would not play, in words: the dashboard is asked (?check=1 plays nothing
  // and is not audited), since an <audio> element never shows the server's answer.
  function explain(src) {
    var fallback = "This recording could not be played.";
    return fetch(withParam(src, "check=1"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        var json = (response.headers.get("content-type") || "").indexOf("application/json") === 0;
        if (!json) return "Your session has ended: sign in again to play this recording.";
        return response.json().then(function (body) {
          if (response.ok) return "This browser cannot play this recording; try Download.";
          if (body.error === "missing") return "This recording is no longer on the PBX.";
          var detail = String(body.detail || "");
          return detail ? detail.charAt(0).toUpperCase() + detail.slice(1) + "." : fallback;
        });
      })
      .catch(function () { return "The dashboard could not be reached: " + fallback.toLowerCase(); });
  }

  function setUp(root) {
    if (root.hasAttribute("data-player-ready")) return;
    root.setAttribute("data-player-ready", "");
    var audio = root.querySelector("[data-player-audio]");
    var play = root.querySelector("[data-player-play]");
    var seek = root.querySelector("[data-player-seek]");
    var elapsed = root.querySelector("[data-player-elapsed]");
    var total = root.querySelector("[data-player-total]");
    var speed = root.querySelector("[data-player-speed]");
    var problem = root.querySelector("[data-player-error]");
    if (!audio || !play || !seek) return;
    var dragging = false;
    var explaining = false;

    function length() {
      return isFinite(audio.duration) && audio.duration > 0 ? audio.duration : Number(seek.max) || 0;
    }

    function moveTo(seconds) {
      var end = length();
      seconds = Math.max(0, end ? Math.min(seconds, end) : seconds);
      audio.currentTime = seconds;
      seek.value = String(seconds);
      elapsed.textContent = format(seconds);
    }

    function toggle() {
      if (root.classList.contains("is-broken")) return;
      if (audio.paused) {
        var started = audio.play();
        if (started && started.catch) started.catch(function () { /* the error event says why */ });
      } else {
        audio.pause();
      }
    }

    function changeSpeed(step) {
      if (!speed) return;
      var index = Math.max(0, Math.min(speed.options.length - 1, speed.selectedIndex + step));
      speed.selectedIndex = index;
      audio.playbackRate = audio.defaultPlaybackRate = Number(speed.value);
    }

    function showPlaying() {
      var playing = !audio.paused && !audio.ended;
      root.classList.toggle("is-playing", playing);
      play.setAttribute("aria-label", playing ? "Pause" : "Play");
    }

    function fail() {
      if (explaining || !audio.error) return;
      explaining = true;
      root.classList.add("is-broken");
      root.querySelectorAll("button, input, select").forEach(function (control) { control.disabled = true; });
      explain(root.getAttribute("data-src") || audio.currentSrc).then(function (message) {
        if (problem) {
          problem.textContent = message;
          problem.hidden = false;
        }
      });
    }

    play.addEventListener("click", toggle);
    root.querySelectorAll("[data-player-skip]").forEach(function (button) {
      button.addEventListener("click", function () {
        moveTo(audio.currentTime + Number(button.getAttribute("data-player-skip")));
      });
    });
    seek.addEventListener("input", function () {
      dragging = true;
      elapsed.textContent = format(Number(seek.value));
    });
    seek.addEventListener("change", function () {
      dragging = false;
      moveTo(Number(seek.value));
    });
    if (speed) speed.addEventListener("change", function () { changeSpeed(0); });

    audio.addEventListener("play", showPlaying);
    audio.addEventListener("pause", showPlaying);
    audio.addEventListener("ended", showPlaying);
    audio.addEventListener("error", fail);
    audio.addEventListener("durationchange", function () {
      if (!isFinite(audio.duration) || audio.duration <= 0) return;
      seek.max = String(audio.duration);
      total.textContent = format(audio.duration);
    });
    audio.addEventListener("timeupdate", function () {
      if (dragging) return;
      seek.value = String(audio.currentTime);
      elapsed.textContent = format(audio.currentTime);
    });

    root.addEventListener("keydown", function (evt) {
      if (evt.altKey || evt.ctrlKey || evt.metaKey) return;
      var target = evt.target;
      if (target instanceof HTMLSelectElement) return; // its own keys choose a speed
      if (evt.key === " " || evt.key === "Spacebar") {
        if (target instanceof HTMLButtonElement || target instanceof HTMLAnchorElement) return;
        evt.preventDefault();
        toggle();
      } else if (evt.key === "ArrowLeft" || evt.key === "ArrowRight") {
        evt.preventDefault(); // also on the slider: 10 s, not its own small step
        moveTo(audio.currentTime + (evt.key === "ArrowLeft" ? -SKIP_SECONDS : SKIP_SECONDS));
      } else if (evt.key === "[" || evt.key === "]") {
        evt.preventDefault();
        changeSpeed(evt.key === "[" ? -1 : 1);
      }
    });
  }

  function setUpAll(scope) {
    if (!scope || !scope.querySelectorAll) return;
    if (scope.matches && scope.matches("[data-player]")) setUp(scope);
    scope.querySelectorAll("[data-player]").forEach(setUp);
  }

  // One recording at a time: starting one pauses the others.
  document.addEventListener("play", function (evt) {
    document.querySelectorAll("[data-player-audio]").forEach(function (other) {
      if (other !== evt.target && !other.paused) other.pause();
    });
  }, true);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setUpAll(document); });
  } else {
    setUpAll(document);
  }
  document.addEventListener("htmx:load", function (evt) { setUpAll(evt.detail && evt.detail.elt); });
})();
