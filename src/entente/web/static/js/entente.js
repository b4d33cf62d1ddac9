/* Entente UI behaviour: draws Vega-Lite charts declared in data attributes, copies tokens.
   No inline scripts anywhere (the Content-Security-Policy forbids them). */
(function () {
  "use strict";

  function drawCharts(root) {
    if (typeof window.vegaEmbed !== "function") {
      return;
    }
    root.querySelectorAll("[data-vega-spec]").forEach(function (element) {
      if (element.dataset.chartState) {
        return;
      }
      element.dataset.chartState = "drawing";
      var spec = JSON.parse(element.dataset.vegaSpec);
      var renderer = element.dataset.vegaRenderer || "svg";
      window.vegaEmbed(element, spec, { actions: false, renderer: renderer })
        .then(function () {
          element.dataset.chartState = "ready";
        })
        .catch(function (error) {
          element.dataset.chartState = "failed";
          element.classList.add("chart-failed");
          element.textContent = "The chart could not be drawn: " + error.message;
          console.error(error);
        });
    });
  }

  function wireCopyButtons(root) {
    root.querySelectorAll("[data-copy-target]:not([data-wired])").forEach(function (button) {
      button.dataset.wired = "true";
      button.addEventListener("click", function () {
        var field = document.querySelector(button.dataset.copyTarget);
        if (!field) {
          return;
        }
        field.select();
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done, function () {
            button.textContent = "Press Ctrl+C to copy";
          });
        } else {
          button.textContent = "Press Ctrl+C to copy";
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    wireCopyButtons(document);
  });
  // A form marked data-swap-invalid shows the server's answer to bad input: a 422 is the
  // same page with the errors next to the fields (htmx leaves 4xx answers unswapped), and
  // a 413 (the body limit, answered before any page) reveals the form's own notice.
  document.addEventListener("htmx:beforeSwap", function (event) {
    // The event fires on the swap target; the form that asked is the request's element.
    var config = event.detail.requestConfig;
    var source = (config && config.elt) || event.target;
    var form = source.closest && source.closest("[data-swap-invalid]");
    if (!form) {
      return;
    }
    var status = event.detail.xhr.status;
    if (status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (status === 413) {
      event.detail.isError = false; // handled here: the notice says what to do
      var notice = form.querySelector("[data-too-large]");
      if (notice) {
        notice.hidden = false;
      }
    }
  });
  // After an htmx swap the new content may hold charts; drawn ones are skipped by their state.
  document.addEventListener("htmx:afterSettle", function () {
    drawCharts(document);
    wireCopyButtons(document);
  });
})();
