/* The print page's "Print" button: hidden in the HTML, shown only where it can work (script on,
   a browser that can print). The page itself is complete without it. */
if (typeof window.print === "function") {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
}
