/* Reading settings, the phone menu, the filters' button and the copy-link button. Loaded as a
   blocking script in <head>: whatever changes how a page looks is decided here, before the first
   paint, as classes and attributes on <html>, so nothing moves once the page shows. Controls that
   need script are shown by css/site.css only under these classes; without script none appears. */
(function () {
  "use strict";
  var root = document.documentElement;
  var SIZES = ["normal", "large", "larger", "largest"];
  var CONTRASTS = ["normal", "high"];
  var KEYS = { size: "qm-text-size", contrast: "qm-contrast" };

  function works(test) {
    try { return Boolean(test()); } catch (e) { return false; }  /* an old browser: not available */
  }
  function stored(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }  /* storage blocked */
  }
  function store(key, value) {
    try {
      if (value === "normal") localStorage.removeItem(key);
      else localStorage.setItem(key, value);
    } catch (e) { /* private mode: the choice holds for this page only */ }
  }

  /* Before the first paint. */
  root.classList.add("js");
  /* The search only where the browser has what search-core.js needs (else the full lists stay);
     the full list makes way at once for the results of a search in the address. */
  if (works(function () {
    return new RegExp("\\p{L}", "u").test("a") && window.Promise && window.fetch && window.URLSearchParams;
  })) {
    root.classList.add("search-ok");
    var params = new URLSearchParams(window.location.search);
    if (params.get("q") || params.get("agency") || params.get("topic")) root.classList.add("qm-searching");
    if (params.get("agency") || params.get("topic")) root.classList.add("filters-active");
  }
  /* Read-aloud buttons: their place is kept where the browser can speak (the voices arrive later:
     js/read-aloud.js); they show at once where a voice for this language was found before. */
  if (works(function () { return window.speechSynthesis && window.SpeechSynthesisUtterance; })) {
    root.classList.add("speech");
    if (stored("qm-voice:" + root.lang) === "1") root.classList.add("voices");
  }
  if (works(function () { return window.isSecureContext && navigator.clipboard && navigator.clipboard.writeText; })) {
    root.classList.add("clipboard");
  }

  function settings() {
    return { size: root.getAttribute("data-text-size") || "normal", contrast: root.getAttribute("data-contrast") || "normal" };
  }
  function apply(size, contrast) {
    if (SIZES.indexOf(size) > 0) root.setAttribute("data-text-size", size);
    else root.removeAttribute("data-text-size");
    if (contrast === "high") root.setAttribute("data-contrast", "high");
    else root.removeAttribute("data-contrast");
  }
  function applyStored() { apply(stored(KEYS.size), stored(KEYS.contrast)); }
  applyStored();

  /* After the first paint: the controls. */
  function dialog() { return document.getElementById("reading-settings"); }
  function syncChoices() {
    var box = dialog(), now = settings();
    if (!box) return;
    Array.prototype.forEach.call(box.querySelectorAll("input[type=radio]"), function (input) {
      input.checked = input.value === (input.name === "text-size" ? now.size : now.contrast);
    });
  }
  var opener = null;
  function openSettings(button) {
    var box = dialog();
    if (!box) return;
    syncChoices();
    opener = button;
    if (typeof box.showModal === "function") {
      if (!box.open) box.showModal();
    } else {
      box.setAttribute("open", "");  /* no <dialog> support: shown in place, closed by its buttons */
      var checked = box.querySelector("input:checked");
      if (checked) checked.focus();
    }
  }
  function closeSettings() {
    var box = dialog();
    if (!box) return;
    if (typeof box.close === "function") box.close();
    else box.removeAttribute("open");
    if (opener && document.activeElement !== opener) opener.focus();
  }

  function outside(box, event) {
    var r = box.getBoundingClientRect();
    return event.clientX < r.left || event.clientX > r.right || event.clientY < r.top || event.clientY > r.bottom;
  }
  function toggle(button, open) {
    button.setAttribute("aria-expanded", String(open));
    return open;
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) return;
    var button = target.closest("[data-settings-open]");
    if (button) { openSettings(button); return; }
    if (target.closest("[data-settings-close]")) { closeSettings(); return; }
    if (target.closest("[data-settings-reset]")) {
      apply("normal", "normal");
      store(KEYS.size, "normal");
      store(KEYS.contrast, "normal");
      syncChoices();
      return;
    }
    if (target === dialog() && outside(target, event)) { closeSettings(); return; }  /* on the backdrop */
    button = target.closest("[data-menu-toggle]");
    if (button) {
      var header = button.closest(".site-header");
      header.classList.toggle("menu-open", toggle(button, button.getAttribute("aria-expanded") !== "true"));
      return;
    }
    button = target.closest("[data-filters-toggle]");
    if (button) {
      var form = button.closest("form");
      root.classList.remove("filters-active");  /* from here on, the button decides */
      form.classList.toggle("filters-open", toggle(button, button.getAttribute("aria-expanded") !== "true"));
      return;
    }
    button = target.closest("[data-copy]");
    if (button) copy(button);
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input || (input.name !== "text-size" && input.name !== "contrast") || !input.closest("#reading-settings")) return;
    var now = settings();
    if (input.name === "text-size" && SIZES.indexOf(input.value) >= 0) {
      apply(input.value, now.contrast);
      store(KEYS.size, input.value);
    } else if (input.name === "contrast" && CONTRASTS.indexOf(input.value) >= 0) {
      apply(now.size, input.value);
      store(KEYS.contrast, input.value);
    }
  });

  document.addEventListener("keydown", function (event) {
    var box = dialog();
    /* Escape closes the dialog (natively where <dialog> is modal; here where it is not). */
    if (event.key === "Escape" && box && box.hasAttribute("open") && typeof box.showModal !== "function") closeSettings();
  });

  /* Another tab changed the settings: follow them. */
  window.addEventListener("storage", function (event) {
    if (event.key === KEYS.size || event.key === KEYS.contrast || event.key === null) {
      applyStored();
      syncChoices();
    }
  });

  function copy(button) {
    var status = button.parentNode.querySelector("[role=status]");
    function say(text) { if (status) status.textContent = text; }
    say("");
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      say(button.getAttribute("data-copied"));
    }, function () {
      say(button.getAttribute("data-copy-failed"));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    /* Filters chosen in the address show open: say so on their button. */
    if (root.classList.contains("filters-active")) {
      Array.prototype.forEach.call(document.querySelectorAll("[data-filters-toggle]"), function (button) {
        button.setAttribute("aria-expanded", "true");
        button.closest("form").classList.add("filters-open");
      });
    }
    var box = dialog();
    if (box) box.addEventListener("close", function () { if (opener) opener.focus(); });
  });

  /* A search page whose script never ran (it failed to load): the full list, as without script. */
  window.addEventListener("load", function () {
    if (document.getElementById("search") && !window.QMSearchStarted) {
      root.classList.remove("search-ok", "qm-searching");
    }
  });
})();
