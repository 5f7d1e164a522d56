/* Find-a-Partner's small enhancements. The page works without them; htmx does the in-place updates. */
(function () {
  "use strict";

  function showLocateButtons(root) {
    if (!("geolocation" in navigator)) return;
    root.querySelectorAll("[data-locate]").forEach(function (button) {
      button.hidden = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    showLocateButtons(document);
  });
  document.addEventListener("htmx:load", function (event) {
    showLocateButtons(event.target);
  });

  // "Use my location": fill the place's coordinates and search.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-locate]");
    if (!button) return;
    var form = button.form;
    button.disabled = true;
    button.textContent = "Finding your location…";
    navigator.geolocation.getCurrentPosition(
      function (position) {
        form.elements.lat.value = position.coords.latitude.toFixed(4);
        form.elements.lng.value = position.coords.longitude.toFixed(4);
        if (!form.elements.radius.value) form.elements.radius.value = "100";
        form.requestSubmit();
      },
      function () {
        button.disabled = false;
        button.textContent = "Location unavailable: type the coordinates";
      },
      { maximumAge: 600000, timeout: 10000 }
    );
  });

  // Leave empty fields out of the request, so the address that htmx pushes stays short and shareable.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") return;
    var parameters = event.detail.parameters;
    Object.keys(parameters).forEach(function (name) {
      var value = parameters[name];
      if (value === "" || (Array.isArray(value) && value.every(function (item) { return item === ""; }))) {
        delete parameters[name];
      }
    });
  });

  // After turning a page in place, put keyboard and screen-reader users at the top of the new results.
  document.addEventListener("htmx:afterSettle", function (event) {
    var source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (source && source.closest && source.closest(".pagination")) {
      var heading = document.getElementById("results-heading");
      if (heading) heading.focus();
    }
  });
})();
