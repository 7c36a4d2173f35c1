// Kinship console: the little the pages need beyond htmx. No inline
// scripts anywhere (the Content-Security-Policy forbids them): charts read
// their data from <script type="application/json"> blocks, and forms ask
// for confirmation through a data-confirm attribute.
(function () {
  "use strict";

  function drawCharts(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var src = document.getElementById(canvas.dataset.chart);
      if (!src) return;
      var cfg;
      try { cfg = JSON.parse(src.textContent); } catch (e) { return; }
      cfg.options = cfg.options || {};
      cfg.options.responsive = true;
      cfg.options.maintainAspectRatio = false;
      cfg.options.animation = false;
      if (cfg.heatmap) { cfg = heatmap(cfg); }
      canvas.dataset.drawn = "1";
      new Chart(canvas, cfg);
    });
  }

  // A retention heat map drawn as a stacked bar chart whose cell colours
  // carry the share (Chart.js has no matrix chart without a plugin).
  function heatmap(cfg) {
    var rows = cfg.heatmap.rows, cols = cfg.heatmap.columns;
    var datasets = rows.map(function (row) {
      return {
        label: row.label,
        data: row.values.map(function () { return 1; }),
        backgroundColor: row.values.map(function (v) {
          if (v === null) return "rgba(0,0,0,0.03)";
          return "rgba(47,63,158," + (0.08 + 0.92 * v).toFixed(3) + ")";
        }),
        shares: row.values
      };
    });
    return {
      type: "bar",
      data: { labels: cols, datasets: datasets },
      options: {
        indexAxis: "x", responsive: true, maintainAspectRatio: false, animation: false,
        scales: { x: { stacked: true }, y: { stacked: true, display: false } },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (ctx) {
            var v = ctx.dataset.shares[ctx.dataIndex];
            return ctx.dataset.label + ": " + (v === null ? "—" : Math.round(v * 100) + "%");
          } } }
        }
      }
    };
  }

  document.addEventListener("submit", function (e) {
    var msg = e.target && e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) { e.preventDefault(); e.stopPropagation(); }
  }, true);

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-copy]");
    if (!b) return;
    var el = document.getElementById(b.dataset.copy);
    if (el && navigator.clipboard) { navigator.clipboard.writeText(el.textContent.trim()); b.textContent = "Copied"; }
  });

  // QR scanning at the door, where the browser offers it (BarcodeDetector
  // and a camera; Chromium on Android does): the code read goes into the
  // check-in form, which is sent as if typed. Without it the button stays
  // hidden and the code is typed.
  function offerScan(root) {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
    root.querySelectorAll("[data-scan-area]").forEach(function (area) { area.hidden = false; });
  }

  function scan(button) {
    var area = button.closest("[data-scan-area]");
    var video = area.querySelector("video");
    var status = area.querySelector("[data-scan-status]");
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    var stream = null, timer = null;
    function stop() {
      if (timer) { clearInterval(timer); timer = null; }
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
      video.hidden = true;
      button.disabled = false;
    }
    button.disabled = true;
    status.textContent = "Point the camera at the member's QR code.";
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      return video.play();
    }).then(function () {
      timer = setInterval(function () {
        detector.detect(video).then(function (found) {
          if (!found.length) return;
          var code = document.getElementById("f-code");
          var form = document.getElementById("checkin");
          if (!code || !form) return;
          stop();
          status.textContent = "";
          code.value = found[0].rawValue;
          if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
        }).catch(function () {});
      }, 250);
    }).catch(function () {
      stop();
      status.textContent = "The camera could not be opened: type the code instead.";
    });
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-scan]");
    if (b) { scan(b); }
  });

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); offerScan(document); });
  document.addEventListener("htmx:afterSettle", function (e) { drawCharts(e.target); offerScan(e.target); });
})();
