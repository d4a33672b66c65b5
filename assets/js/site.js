/* The larger-text switch. Loaded in <head> so the reader's choice applies before the first paint;
   the button stays hidden without JavaScript, where the browser's own zoom does the job. */
(function () {
  "use strict";
  var KEY = "qm-text-size";
  var root = document.documentElement;
  /* Before the first paint: controls that need script show only where it runs, and the search
     only where the browser has what search-core.js needs (else the pages keep their full lists). */
  root.classList.add("js");
  try {
    if (new RegExp("\\p{L}", "u").test("a") && window.Promise && window.fetch && window.URLSearchParams) {
      root.classList.add("search-ok");
    }
  } catch (e) { /* an old browser: no search */ }
  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function apply(large) {
    if (large) root.setAttribute("data-text-size", "large");
    else root.removeAttribute("data-text-size");
  }
  apply(stored() === "large");
  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("[data-text-size-toggle]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = false;
      button.setAttribute("aria-pressed", String(root.getAttribute("data-text-size") === "large"));
      button.addEventListener("click", function () {
        var large = root.getAttribute("data-text-size") !== "large";
        apply(large);
        try { localStorage.setItem(KEY, large ? "large" : "normal"); } catch (e) { /* private mode */ }
        button.setAttribute("aria-pressed", String(large));
      });
    });
  });
})();
