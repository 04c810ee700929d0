// GeoETL console: the little behaviour that HTML alone lacks. Everything
// works without it; it only makes forms and menus smoother.
(function () {
  "use strict";

  // Quick cron templates fill the expression and ask for a new preview.
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-cron]");
    if (!b) return;
    var input = document.getElementById("cronExpression");
    if (!input) return;
    input.value = b.getAttribute("data-cron");
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
  });

  // Menus built on <details> close on Escape and when focus or a click
  // goes elsewhere, as menus do.
  function closeMenus(except) {
    document.querySelectorAll("details.dropdown[open]").forEach(function (d) {
      if (d !== except) d.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (ev) {
    closeMenus(ev.target.closest("details.dropdown"));
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape") return;
    var open = ev.target.closest && ev.target.closest("details.dropdown[open]");
    closeMenus(null);
    if (open) open.querySelector("summary").focus();
  });
  document.addEventListener("focusin", function (ev) {
    closeMenus(ev.target.closest("details.dropdown"));
  });
})();
