// nrm-api web form: small progressive enhancement only; every page works without it.
(function () {
  "use strict";
  // A refused form: move focus to its error summary, so a screen reader announces it at once.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  // Before the session's idle limit: a warning that saving the form keeps what was typed.
  var warning = document.getElementById("session-warning");
  var seconds = warning ? parseInt(warning.getAttribute("data-warn-after"), 10) : NaN;
  if (warning && seconds > 0) {
    window.setTimeout(function () { warning.hidden = false; }, seconds * 1000);
  }
})();
