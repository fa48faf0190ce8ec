// tcpladder: the API docs page (/docs) with the vendored Swagger UI, from this origin only.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("swagger-ui");
    if (!root || !window.SwaggerUIBundle) return;
    window.SwaggerUIBundle({
      url: root.dataset.spec,
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null, // never ask a validator on another origin
      tryItOutEnabled: false,
    });
  });
})();
