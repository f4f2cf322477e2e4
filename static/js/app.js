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
     follow-up chips and the date input clear each other.
   - Web Push ([data-push], components/push_prompt.html): shows this browser's state; subscribes
     only when [data-push-subscribe] is pressed (permission, service worker, pushManager, then
     POST /push/subscriptions); [data-push-unsubscribe] unsubscribes and DELETEs it. */
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
    // The page's CSP nonce (readable only from script, as the property): a fragment with a
    // <style> of its own (a server-drawn chart) needs this page's nonce, not its response's.
    var styled = doc.querySelector("link[nonce]");
    if (styled && styled.nonce) e.detail.headers["X-Page-Nonce"] = styled.nonce;
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
  // A sheet HTMX loaded into a slot (Today's complete and snooze sheets) opens as a modal.
  doc.addEventListener("htmx:afterSwap", function (e) {
    var target = e.detail && e.detail.target;
    if (target && target.id === "sheet-slot") upgradeOpenSheets();
  });
  // Chips and a date input that mean the same thing: choosing one clears the other.
  // [data-sets=ID] chips instead copy their value into that input (the new follow-up's date).
  var CHIP_PAIRS = { follow_up_in: "next_follow_up_on", next_in: "next_on" };
  doc.addEventListener("change", function (e) {
    var t = e.target;
    if (!(t instanceof HTMLInputElement) || !t.form) return;
    var j, others;
    if (t.hasAttribute("data-sets") && t.checked) {
      var input = doc.getElementById(t.getAttribute("data-sets"));
      if (input) input.value = t.value;
      return;
    }
    if (CHIP_PAIRS[t.name] && t.checked) {
      var date = t.form.querySelector('input[name="' + CHIP_PAIRS[t.name] + '"]');
      if (date) date.value = "";
      return;
    }
    for (var chipName in CHIP_PAIRS) {
      if (CHIP_PAIRS[chipName] === t.name && t.value) {
        others = t.form.querySelectorAll('input[name="' + chipName + '"]');
        for (j = 0; j < others.length; j++) others[j].checked = false;
      }
    }
    if (t.type === "date") {
      others = t.form.querySelectorAll('input[data-sets="' + t.id + '"]');
      for (j = 0; j < others.length; j++) others[j].checked = (others[j].value === t.value);
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
  /* Web Push ----------------------------------------------------------------------------------------- */
  // Never asks for permission on load: only a press on [data-push-subscribe] does.
  function pushSupported() {
    return window.isSecureContext && "serviceWorker" in navigator && "PushManager" in window &&
      "Notification" in window;
  }
  function isIos() {
    var ua = navigator.userAgent || "";
    return /iPad|iPhone|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
  }
  function isStandalone() {
    return navigator.standalone === true ||
      (window.matchMedia && window.matchMedia("(display-mode: standalone)").matches);
  }
  function b64urlToBytes(text) {
    var b64 = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(b64), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function csrfToken() {
    var meta = doc.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  function pushRequest(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
      body: body ? JSON.stringify(body) : undefined,
    });
  }
  function workerReady() {
    // register() is idempotent; ready never settles without a worker, so give up after a while.
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* below */ });
    return Promise.race([navigator.serviceWorker.ready, new Promise(function (_, reject) {
      setTimeout(function () { reject(new Error("no service worker")); }, 15000);
    })]);
  }
  // Staff devices go to /push/subscriptions; the member page names its own (data-push-url).
  function pushUrl(box) { return box.getAttribute("data-push-url") || "/push/subscriptions"; }
  function pushState(box, state, text) {
    box.setAttribute("data-push-status", state);
    var shown = box.querySelector("[data-push-text]");
    if (shown && !shown.hasAttribute("data-push-pitch")) shown.setAttribute("data-push-pitch", shown.textContent);
    // A prompt card keeps its pitch while off; everywhere else the state is spelled out.
    var pitch = box.hasAttribute("data-push-prompt") && state === "off";
    if (shown) shown.textContent = pitch ? shown.getAttribute("data-push-pitch") :
      (text || box.getAttribute("data-label-" + state) || "");
    var on = state === "on", off = state === "off" || state === "failed";
    var sub = box.querySelector("[data-push-subscribe]");
    var unsub = box.querySelector("[data-push-unsubscribe]");
    if (sub) { sub.hidden = !off; sub.disabled = false; }
    if (unsub) { unsub.hidden = !on; unsub.disabled = false; }
    if (box.hasAttribute("data-push-prompt")) box.hidden = !off;  // a prompt only asks
  }
  function pushCount(box, n) {
    var el = box.querySelector("[data-push-count]");
    if (el && n !== null && !isNaN(n)) {
      el.setAttribute("data-push-count", String(n));
      el.textContent = (box.getAttribute("data-label-devices") || "{n}").replace("{n}", String(n));
    }
    var test = box.querySelector("[data-push-test]");
    if (test && n !== null && !isNaN(n)) test.hidden = n === 0;
  }
  function pushCheck(box) {
    if (!pushSupported()) return pushState(box, isIos() && !isStandalone() ? "ios" : "unsupported");
    if (Notification.permission === "denied") return pushState(box, "blocked");
    navigator.serviceWorker.getRegistration("/").then(function (reg) {
      return reg ? reg.pushManager.getSubscription() : null;
    }).then(function (sub) {
      pushState(box, sub ? "on" : "off");
    }, function () { pushState(box, "off"); });
  }
  function askPermission() {
    return new Promise(function (resolve) {  // Safari's older callback form, or the promise
      var result = Notification.requestPermission(resolve);
      if (result && result.then) result.then(resolve);
    });
  }
  function pushSubscribe(box) {
    pushState(box, "working");
    box.querySelectorAll("[data-push-subscribe]").forEach(function (b) { b.hidden = false; b.disabled = true; });
    askPermission().then(function (permission) {
      if (permission !== "granted") throw new Error(permission === "denied" ? "blocked" : "off");
      return workerReady();
    }).then(function (reg) {
      return reg.pushManager.subscribe({
        userVisibleOnly: true, applicationServerKey: b64urlToBytes(box.getAttribute("data-push-key")),
      });
    }).then(function (sub) {
      return pushRequest("POST", pushUrl(box), sub.toJSON()).then(function (response) {
        if (response.status === 201) return response.json();
        sub.unsubscribe();  // the server refused it: do not leave a half-on state behind
        throw new Error("failed");
      });
    }).then(function (saved) {
      pushState(box, "on");
      pushCount(box, saved.devices);
      // A prompt card hides itself once on, so say it happened; the account page shows it.
      if (box.hasAttribute("data-push-prompt")) toast(box.getAttribute("data-label-on"));
    }).catch(function (err) {
      var reason = err && err.message;
      pushState(box, reason === "blocked" || reason === "off" ? reason : "failed");
    });
  }
  function pushUnsubscribe(box) {
    pushState(box, "working");
    workerReady().then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (sub) {
      if (!sub) return null;
      var endpoint = sub.endpoint;
      return sub.unsubscribe().then(function () {
        return pushRequest("DELETE", pushUrl(box), { endpoint: endpoint });
      });
    }).then(function (response) {
      pushState(box, "off");
      if (response) pushCount(box, parseInt(response.headers.get("X-Push-Devices"), 10));
    }, function () { pushCheck(box); });
  }
  doc.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-push-subscribe], [data-push-unsubscribe]");
    var box = button && button.closest("[data-push]");
    if (!box) return;
    e.preventDefault();
    if (button.hasAttribute("data-push-subscribe")) pushSubscribe(box);
    else pushUnsubscribe(box);
  });
  function initPush() { doc.querySelectorAll("[data-push]").forEach(pushCheck); }
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", initPush);
  else initPush();
  doc.addEventListener("htmx:load", function (e) {
    var elt = e.detail && e.detail.elt;
    if (elt && elt.querySelectorAll) elt.querySelectorAll("[data-push]").forEach(pushCheck);
  });
})();
