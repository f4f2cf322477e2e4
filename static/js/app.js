/* Shop CRM glue. Loaded with `defer` after htmx; no inline scripts or eval (strict CSP).
   - bottom sheets: [data-open-sheet="ID"] opens <dialog id=ID>; [data-close-sheet], Escape and a
     backdrop tap close it; a form with [data-close-on-success] closes its sheet after a 2xx htmx
     response (unless the swapped content still shows a field with aria-invalid="true")
   - CSRF: X-CSRFToken header from <meta name="csrf-token"> on every htmx request
   - service worker /sw.js (scope /), offline/online toasts, [data-copy] copy-to-clipboard,
     [data-dismiss] on flash messages, a top progress bar and retry for endless scrolling;
     [data-sheet-reload] on an opener hides its sheet's old content until the new one is in.
   - customer card: sheets the server rendered open become modals; a form's data-then-show
     scrolls to that element after it closes its sheet; HX-Trigger "crm:toast" shows a toast;
     follow-up chips and the date input clear each other. */
(function () {
  "use strict";
  var doc = document;
  var root = doc.documentElement;
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function isZh() { return (root.getAttribute("lang") || "").toLowerCase().indexOf("zh") === 0; }
  function label(name, en, zh) {
    var host = doc.getElementById("toasts");
    return (host && host.getAttribute("data-label-" + name)) || (isZh() ? zh : en);
  }

  /* Toasts ----------------------------------------------------------------------------------- */
  function toastHost() {
    var dialog = doc.querySelector("dialog[open]");
    if (!dialog) return doc.getElementById("toasts");
    var host = dialog.querySelector(".toasts");
    if (!host) {
      host = doc.createElement("div");
      host.className = "toasts";
      host.setAttribute("role", "status");
      dialog.appendChild(host);
    }
    return host;
  }
  function dismissToast(el) {
    if (!el || !el.parentNode) return;
    el.classList.add("is-leaving");
    setTimeout(function () { if (el.parentNode) el.parentNode.removeChild(el); }, 220);
  }
  function toast(message, opts) {
    var host = toastHost();
    if (!host || !message) return null;
    opts = opts || {};
    var el = doc.createElement("div");
    el.className = "toast";
    el.textContent = message;
    host.appendChild(el);
    if (!opts.sticky) setTimeout(function () { dismissToast(el); }, opts.ms || 2600);
    return el;
  }
  window.crmToast = toast;

  /* Bottom sheets ------------------------------------------------------------------------------ */
  function openSheet(dialog) {
    if (!dialog || dialog.open || typeof dialog.showModal !== "function") return;
    dialog.classList.remove("is-closing");
    dialog.showModal();
  }
  function closeSheet(dialog) {
    if (!dialog || !dialog.open || dialog.classList.contains("is-closing")) return;
    if (reduceMotion) { dialog.close(); return; }
    dialog.classList.add("is-closing");
    setTimeout(function () { dialog.classList.remove("is-closing"); dialog.close(); }, 180);
  }
  // Escape: animate the close instead of the instant native one ('cancel' does not bubble).
  doc.addEventListener("cancel", function (e) {
    var d = e.target;
    if (d && d.matches && d.matches("dialog.sheet")) { e.preventDefault(); closeSheet(d); }
  }, true);

  /* Clicks: sheets, copy, dismiss, retry --------------------------------------------------------- */
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var ta = doc.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.className = "sr-only";
      (doc.querySelector("dialog[open]") || doc.body).appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = doc.execCommand("copy"); } catch (err) { ok = false; }
      ta.parentNode.removeChild(ta);
      if (ok) resolve(); else reject(new Error("copy failed"));
    });
  }

  doc.addEventListener("click", function (e) {
    var t = e.target;
    if (!(t instanceof Element)) return;
    var el = t.closest("[data-open-sheet]");
    if (el) {
      var sheet = doc.getElementById(el.getAttribute("data-open-sheet"));
      // An opener that loads the sheet's content (hx-get into hx-target) hides what an earlier
      // opener left there until its own content arrives (the swap replaces the element).
      var stale = el.hasAttribute("data-sheet-reload") && doc.querySelector(el.getAttribute("hx-target"));
      if (stale && window.htmx) stale.classList.add("is-stale");
      if (sheet && typeof sheet.showModal === "function") { e.preventDefault(); openSheet(sheet); }
      return; // without a dialog (or without JS) an <a href> opener simply navigates
    }
    el = t.closest("[data-close-sheet]");
    if (el) { e.preventDefault(); closeSheet(el.closest("dialog")); return; }
    if (t.matches("dialog.sheet[open]")) {
      var r = t.getBoundingClientRect();
      if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) closeSheet(t);
      return;
    }
    el = t.closest("[data-copy]");
    if (el) {
      e.preventDefault();
      copyText(el.getAttribute("data-copy") || "").then(function () {
        toast(el.getAttribute("data-copied-label") || label("copied", "Copied", "已复制"));
      }, function () {
        toast(label("copy-failed", "Could not copy", "复制失败"));
      });
      return;
    }
    el = t.closest("[data-dismiss]");
    if (el) {
      var box = el.closest(".flash") || el.parentNode;
      var list = box && box.parentNode;
      if (list) {
        list.removeChild(box);
        if (!list.querySelector(".flash")) list.textContent = ""; // back to :empty (no padding)
      }
      return;
    }
    el = t.closest(".load-more-retry");
    if (el) {
      var sentinel = el.closest(".load-more");
      if (sentinel && window.htmx) {
        sentinel.classList.remove("is-error");
        el.hidden = true;
        window.htmx.trigger(sentinel, "retry");
      }
    }
  });

  /* htmx: CSRF header, progress bar, close-on-success, errors -------------------------------- */
  var inFlight = 0;
  function done() {
    inFlight = Math.max(0, inFlight - 1);
    if (!inFlight) root.classList.remove("is-loading");
  }

  doc.addEventListener("htmx:configRequest", function (e) {
    var meta = doc.querySelector('meta[name="csrf-token"]');
    var token = meta && meta.getAttribute("content");
    if (token) e.detail.headers["X-CSRFToken"] = token;
  });

  doc.addEventListener("htmx:beforeSend", function (e) {
    var xhr = e.detail.xhr;
    var elt = e.detail.elt;
    if (!xhr) return;
    inFlight += 1;
    root.classList.add("is-loading");
    xhr.addEventListener("loadend", done);
    var form = elt && elt.closest ? elt.closest("form[data-close-on-success]") : null;
    var dialog = form && form.closest("dialog");
    if (dialog) {
      var show = form.getAttribute("data-then-show");
      // Registered after htmx's own onload, so this runs once the response has been swapped in.
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300 && !dialog.querySelector('[aria-invalid="true"]')) {
          closeSheet(dialog);
          if (form.isConnected) form.reset();
          var target = show && doc.querySelector(show);
          if (target) setTimeout(function () {
            target.scrollIntoView({ behavior: reduceMotion ? "auto" : "smooth", block: "start" });
          }, 200);
        }
      });
    }
  });

  // The pipeline's stage chips: keep the current stage's chip in view (on load and after a swap).
  function showCurrentChip() {
    var chip = doc.querySelector('.stage-chips [aria-current="page"]');
    var row = chip && chip.parentNode;
    if (row && row.scrollWidth > row.clientWidth) {
      row.scrollLeft = Math.max(0, chip.offsetLeft - row.offsetLeft - (row.clientWidth - chip.offsetWidth) / 2);
    }
  }
  doc.addEventListener("DOMContentLoaded", showCurrentChip);
  doc.addEventListener("htmx:afterSettle", showCurrentChip);

  // A response can ask for a toast: HX-Trigger: {"crm:toast": "Saved"}.
  // It arrives before the swap, while the sheet that sent the form is still open: show it
  // once that sheet has closed (a toast inside a closed dialog is never seen).
  doc.addEventListener("crm:toast", function (e) {
    var detail = e.detail;
    var message = detail && typeof detail === "object" ? detail.value : detail;
    setTimeout(function () { toast(message); }, 260);
  });

  function loadMoreFailed(elt) {
    var sentinel = elt && elt.closest ? elt.closest(".load-more") : null;
    if (!sentinel) return false;
    sentinel.classList.add("is-error");
    var btn = sentinel.querySelector(".load-more-retry");
    if (btn) btn.hidden = false;
    return true;
  }
  doc.addEventListener("htmx:sendError", function (e) {
    loadMoreFailed(e.detail.elt);
    toast(label("network", "Network problem. Check your connection and try again.", "网络异常，请检查网络后重试"));
  });
  doc.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr;
    if (xhr && xhr.status === 422) return; // validation errors are shown next to the fields
    loadMoreFailed(e.detail.elt);
    toast(label("error", "Something went wrong. Please try again.", "出错了，请稍后重试"));
  });

  /* Sheets rendered open by the server (a page reached without JS, a form with errors): once
     JS runs, show them as modals. Follow-up chips and the date input exclude each other. */
  function upgradeOpenSheets() {
    var open = doc.querySelectorAll("dialog.sheet[open]");
    for (var i = 0; i < open.length; i++) {
      if (typeof open[i].showModal === "function") { open[i].close(); open[i].showModal(); }
    }
  }
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", upgradeOpenSheets);
  else upgradeOpenSheets();
  doc.addEventListener("change", function (e) {
    var t = e.target;
    if (!(t instanceof HTMLInputElement) || !t.form) return;
    if (t.name === "follow_up_in" && t.checked) {
      var date = t.form.querySelector('input[name="next_follow_up_on"]');
      if (date) date.value = "";
    } else if (t.name === "next_follow_up_on" && t.value) {
      var chips = t.form.querySelectorAll('input[name="follow_up_in"]');
      for (var j = 0; j < chips.length; j++) chips[j].checked = false;
    }
  });

  /* Offline / online ------------------------------------------------------------------------------ */
  var offlineToast = null;
  window.addEventListener("offline", function () {
    root.classList.add("is-offline");
    if (!offlineToast) offlineToast = toast(label("offline", "You are offline", "网络已断开"), { sticky: true });
  });
  window.addEventListener("online", function () {
    root.classList.remove("is-offline");
    dismissToast(offlineToast);
    offlineToast = null;
    toast(label("online", "Back online", "网络已恢复"));
  });

  /* Service worker ---------------------------------------------------------------------------------- */
  // Registered when the page is idle after load, so it never competes with the first render.
  if ("serviceWorker" in navigator && window.isSecureContext) {
    var registerWorker = function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* optional */ });
    };
    window.addEventListener("load", function () {
      if (window.requestIdleCallback) window.requestIdleCallback(registerWorker, { timeout: 5000 });
      else setTimeout(registerWorker, 2000);
    });
  }
})();
