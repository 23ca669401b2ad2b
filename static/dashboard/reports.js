// The Reports page's charts (templates/dashboard/reports.html), drawn by Chart.js (vendored
// from npm into static/vendor/ by `make vendor`). The data is the JSON in the page's
// #report-data data-report attribute: no inline script (CSP). Every chart has a table with
// its numbers next to it, and the series differ by shape and dash as well as by colour.
(function () {
  "use strict";

  function labelsOf(canvas) {
    try {
      return JSON.parse(canvas.getAttribute("data-labels") || "{}");
    } catch {
      return {};
    }
  }

  function draw() {
    var source = document.getElementById("report-data");
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.getAttribute("data-report") || "{}");
    var Chart = window.Chart;
    Chart.defaults.animation = false;
    Chart.defaults.font.size = 13;

    var daily = document.getElementById("chart-daily");
    if (daily) {
      var names = labelsOf(daily);
      new Chart(daily, {
        type: "bar",
        data: {
          labels: data.days,
          datasets: [
            {
              type: "bar",
              label: names.started,
              data: data.started,
              backgroundColor: "rgba(37, 99, 235, 0.35)",
              borderColor: "#1d4ed8",
              borderWidth: 1,
            },
            {
              type: "line",
              label: names.answered,
              data: data.answered,
              borderColor: "#15803d",
              backgroundColor: "#15803d",
              pointStyle: "circle",
              pointRadius: 4,
            },
            {
              type: "line",
              label: names.missed,
              data: data.missed,
              borderColor: "#b91c1c",
              backgroundColor: "#b91c1c",
              borderDash: [6, 4],
              pointStyle: "triangle",
              pointRadius: 6,
            },
          ],
        },
        options: {
          maintainAspectRatio: false,
          plugins: { legend: { labels: { usePointStyle: true } } },
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        },
      });
    }

    var csat = document.getElementById("chart-csat");
    if (csat) {
      new Chart(csat, {
        type: "bar",
        data: {
          labels: ["1", "2", "3", "4", "5"],
          datasets: [
            {
              label: labelsOf(csat).ratings,
              data: data.csat,
              backgroundColor: "rgba(124, 58, 237, 0.45)",
              borderColor: "#6d28d9",
              borderWidth: 1,
            },
          ],
        },
        options: {
          maintainAspectRatio: false,
          plugins: { legend: { display: false } },
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        },
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
