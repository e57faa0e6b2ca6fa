// The console's small script: print buttons and the dashboard's charts (ECharts, served
// by the console itself). Every chart is also a table on the page, so nothing depends on it.
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  var data = document.getElementById("chart-data");
  if (!data || typeof window.echarts === "undefined") { return; }
  var charts;
  try { charts = JSON.parse(data.textContent || "[]"); } catch (e) { return; }
  var made = [];
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var c = charts[Number(el.getAttribute("data-chart"))];
    if (!c || !c.labels || c.labels.length === 0) { el.classList.add("empty-chart"); return; }
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      color: ["#1f5fa8", "#b0452b", "#2e7d32"],
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 32, bottom: 64, containLabel: true },
      xAxis: { type: "category", data: c.labels, axisLabel: { rotate: c.labels.length > 6 ? 40 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: c.series.map(function (s) { return { name: s.name, type: c.kind, data: s.data }; })
    });
    made.push(chart);
  });
  document.documentElement.setAttribute("data-charts", String(made.length));
  window.addEventListener("resize", function () { made.forEach(function (c) { c.resize(); }); });
})();
