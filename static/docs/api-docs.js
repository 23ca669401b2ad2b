/* global Scalar */
// Starts the API reference (the vendored @scalar/api-reference bundle) on /schema, from a
// file rather than an inline script, so that the page's CSP allows no inline script.
(function () {
  "use strict";
  var mount = document.getElementById("api-docs");
  if (mount && window.Scalar) {
    Scalar.createApiReference(mount, {
      url: mount.getAttribute("data-spec-url"),
      withDefaultFonts: false,
      hideClientButton: true,
      telemetry: false,
    });
  }
})();
