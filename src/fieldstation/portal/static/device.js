// A device's battery voltage and temperature over the period, drawn with uPlot.
"use strict";
(function () {
  const plots = document.getElementById("plots");
  const status = document.getElementById("plot-status");

  function plot(target, times, values, label, colour) {
    const width = Math.max(320, target.clientWidth || 480);
    return new uPlot(
      {
        width, height: 240,
        series: [{}, { label, stroke: colour, width: 1.5, spanGaps: true, points: { show: times.length < 200 } }],
        axes: [{}, { size: 60 }],
        legend: { show: true },
      },
      [times, values],
      target,
    );
  }

  fetch(plots.dataset.series, { credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) {
        throw new Error(String(response.status));
      }
      return response.json();
    })
    .then((series) => {
      plot(document.getElementById("plot-voltage"), series.time, series.voltage, "Battery (V)", "#2f5d50");
      plot(document.getElementById("plot-temperature"), series.time, series.temperature_c, "Temperature (°C)", "#c0392b");
      const count = series.time.length;
      status.textContent = count ? `${count} readings` : "no readings in this period";
      document.body.dataset.plotted = String(count);
    })
    .catch((error) => { status.textContent = `the readings could not be loaded: ${error.message}`; });
})();
