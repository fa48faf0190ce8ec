// tcpladder: the little JavaScript the pages need; everything works without it except
// copy-to-clipboard and the upload progress bar.
(function () {
  "use strict";
  // The server never writes the Host header it was sent into a page: without a configured
  // base URL the permalink is a path, completed here from the address the browser shows.
  document.addEventListener("DOMContentLoaded", function () {
    var link = document.getElementById("permalink");
    if (link && link.value.charAt(0) === "/") link.value = window.location.origin + link.value;
  });
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("button.copy");
    if (!btn) return;
    var input = document.querySelector(btn.dataset.copy);
    if (!input) return;
    input.select();
    var done = function () { btn.textContent = btn.dataset.done || "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    } else { document.execCommand("copy"); done(); }
  });
  // Escape hides a field's tooltip by leaving the field.
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && document.activeElement && document.activeElement.classList.contains("f")) {
      document.activeElement.blur();
    }
  });
  document.addEventListener("htmx:xhr:progress", function (ev) {
    var bar = document.getElementById("upload-progress");
    if (bar && ev.detail.lengthComputable) {
      bar.value = Math.round((ev.detail.loaded / ev.detail.total) * 100);
    }
  });
  // Clear a previous error when a new submission starts.
  document.addEventListener("htmx:beforeRequest", function (ev) {
    var result = document.getElementById("result");
    if (result && ev.target.id === "submit-form") result.innerHTML = "";
  });
})();
