/* Scan member card (/members/scan): read the QR code on a member's phone with the camera and
   open their card. Uses the browser's BarcodeDetector when it reads QR codes, else jsQR
   (static/vendor/jsQR.min.js). The decoded text goes to GET /members/scan?code=…, which checks
   the signature and the scope, so nothing here is trusted. The typed member number below the
   camera is the fallback (no camera, permission denied, no HTTPS). No inline script (CSP). */
(function () {
  "use strict";
  var root = document.querySelector("[data-scan]");
  if (!root) return;
  var video = root.querySelector("video");
  var status = root.querySelector("[data-scan-status]");
  var startBtn = root.querySelector("[data-scan-start]");
  var manual = document.getElementById("f-no");
  var canvas = document.createElement("canvas");
  var ctx = canvas.getContext("2d", { willReadFrequently: true });
  var stream = null, detector = null, timer = null, busy = false, done = false;

  function say(name, state) {
    status.textContent = root.getAttribute("data-label-" + name) || "";
    root.setAttribute("data-state", state || name);
  }

  function stop() {
    if (timer) { clearTimeout(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
  }

  function found(text) {
    if (done || !text) return;
    done = true;
    stop();
    say("opening", "found");
    if (navigator.vibrate) navigator.vibrate(60);
    window.location.assign(root.getAttribute("data-endpoint") + "?code=" + encodeURIComponent(text));
  }

  function decodeWithJsQR() {
    var w = video.videoWidth, h = video.videoHeight;
    if (!w || !h || typeof window.jsQR !== "function") return null;
    var scale = Math.min(1, 720 / Math.max(w, h));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    var result = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
    return result ? result.data : null;
  }

  function tick() {
    timer = null;
    if (done || !stream) return;
    if (busy || video.readyState < 2) { timer = setTimeout(tick, 120); return; }
    busy = true;
    var next = function () { busy = false; if (!done && stream) timer = setTimeout(tick, 150); };
    if (detector) {
      detector.detect(video).then(function (codes) {
        if (codes && codes.length) found(codes[0].rawValue);
        next();
      }, function () { detector = null; next(); });
    } else {
      try { found(decodeWithJsQR()); } catch (e) { /* a frame that could not be read */ }
      next();
    }
  }

  function pickDetector() {
    if (!("BarcodeDetector" in window)) return Promise.resolve(null);
    var make = function () { return new window.BarcodeDetector({ formats: ["qr_code"] }); };
    if (typeof window.BarcodeDetector.getSupportedFormats !== "function") {
      try { return Promise.resolve(make()); } catch (e) { return Promise.resolve(null); }
    }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      return formats.indexOf("qr_code") >= 0 ? make() : null;
    }, function () { return null; });
  }

  function failed(err) {
    stop();
    var name = err && err.name;
    say(name === "NotAllowedError" || name === "SecurityError" ? "denied" :
        name === "NotFoundError" || name === "OverconstrainedError" ? "nocamera" : "failed", "error");
    if (startBtn) startBtn.hidden = false;
    if (manual) manual.focus();
  }

  function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say(window.isSecureContext ? "nocamera" : "insecure", "error");
      if (startBtn) startBtn.hidden = true;
      return;
    }
    if (startBtn) startBtn.hidden = true;
    done = false;
    say("starting", "starting");
    pickDetector().then(function (d) {
      detector = d;
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false });
    }).then(function (s) {
      stream = s;
      video.srcObject = s;
      return video.play();
    }).then(function () {
      say("looking", "scanning");
      tick();
    }).catch(failed);
  }

  if (startBtn) startBtn.addEventListener("click", start);
  window.addEventListener("pagehide", stop);
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { stop(); if (!done && startBtn) { startBtn.hidden = false; say("paused", "idle"); } }
  });
  if (root.hasAttribute("data-autostart")) start();
})();
