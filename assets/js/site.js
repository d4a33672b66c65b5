/* The larger-text switch. Loaded in <head> so the reader's choice applies before the first paint;
   the button stays hidden without JavaScript, where the browser's own zoom does the job. */
(function () {
  "use strict";
  var KEY = "qm-text-size";
  var root = document.documentElement;
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
