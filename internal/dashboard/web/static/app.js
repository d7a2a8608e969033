// The dashboard's only script (served from the agent, allowed by the
// Content-Security-Policy as 'self'; no inline script anywhere). It makes
// the filters apply as soon as a choice changes, and marks the page as
// scripted so the browser test can tell the script ran.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.documentElement.dataset.enhanced = "true";
  document.querySelectorAll("form.filters select").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
});
