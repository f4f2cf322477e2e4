/* Shop CRM service worker (served at /sw.js, scope /).
   Pages carry personal data: they are never stored. Only the offline page, the manifest and the
   static assets are cached. Bump VERSION whenever this file or the precache list changes. */
"use strict";

const VERSION = "v2";
const SHELL_CACHE = "crm-shell-" + VERSION;   // the offline page and the manifest
const STATIC_CACHE = "crm-static-" + VERSION; // /static/ files (URLs carry ?v=<hash>)
const OFFLINE_URL = "/offline";
const MEMBER_OFFLINE_URL = "/m/offline";  // the member page's own offline screen

const SHELL_URLS = [OFFLINE_URL, MEMBER_OFFLINE_URL, "/manifest.webmanifest", "/m/manifest.webmanifest"];
const STATIC_URLS = [
  "/static/css/app.css",
  "/static/js/htmx.min.js",
  "/static/js/app.js",
  "/static/member/member.css",
  "/static/icons/favicon.svg",
  "/static/icons/favicon-32.png",
  "/static/icons/apple-touch-icon.png",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
  "/static/icons/icon-maskable-512.png",
];

function precache(cacheName, urls) {
  return caches.open(cacheName).then((cache) =>
    cache.addAll(urls.map((url) => new Request(url, { cache: "reload", credentials: "same-origin" })))
  );
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    Promise.all([precache(SHELL_CACHE, SHELL_URLS), precache(STATIC_CACHE, STATIC_URLS)]).then(() =>
      self.skipWaiting()
    )
  );
});

self.addEventListener("activate", (event) => {
  const keep = new Set([SHELL_CACHE, STATIC_CACHE]);
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(names.filter((n) => n.startsWith("crm-") && !keep.has(n)).map((n) => caches.delete(n)));
      if (self.registration.navigationPreload) {
        try { await self.registration.navigationPreload.enable(); } catch (e) { /* unsupported */ }
      }
      await self.clients.claim();
    })()
  );
});

// Navigations: network first (never stored); offline -> the cached /offline page.
async function handleNavigation(event) {
  try {
    const preloaded = await event.preloadResponse;
    if (preloaded) return preloaded;
    return await fetch(event.request);
  } catch (err) {
    const cache = await caches.open(SHELL_CACHE);
    const member = new URL(event.request.url).pathname.startsWith("/m/");
    return (await cache.match(member ? MEMBER_OFFLINE_URL : OFFLINE_URL)) || Response.error();
  }
}

// Static files: cache first. A new ?v= replaces older copies of the same path.
async function handleStatic(request) {
  const cache = await caches.open(STATIC_CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") {
      await cache.delete(request, { ignoreSearch: true });
      await cache.put(request, response.clone());
    }
    return response;
  } catch (err) {
    const stale = await cache.match(request, { ignoreSearch: true });
    if (stale) return stale;
    throw err;
  }
}

// The manifest: network, falling back to the precached copy.
async function handleShell(request) {
  try {
    return await fetch(request);
  } catch (err) {
    const hit = await caches.match(request, { cacheName: SHELL_CACHE, ignoreSearch: true });
    if (hit) return hit;
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;            // never touch writes
  if (request.headers.has("HX-Request")) return;  // htmx fragments: network only, never cached
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;

  if (request.mode === "navigate") {
    event.respondWith(handleNavigation(event));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(handleStatic(request));
  } else if (url.pathname === "/manifest.webmanifest" || url.pathname === "/m/manifest.webmanifest") {
    event.respondWith(handleShell(request));
  }
  // everything else (pages fetched by script, API, fragments): network only, by the browser
});

/* Web Push: payload JSON {title, body, url}; a click focuses or opens url (same origin only). */
function sameOriginUrl(value) {
  try {
    const url = new URL(value || "/today", self.location.origin);
    return url.origin === self.location.origin ? url.href : new URL("/today", self.location.origin).href;
  } catch (e) {
    return new URL("/today", self.location.origin).href;
  }
}

self.addEventListener("push", (event) => {
  let data = {};
  if (event.data) {
    try { data = event.data.json() || {}; } catch (e) { data = { body: event.data.text() }; }
  }
  const title = data.title || "Shop CRM";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: data.body || "",
      icon: "/static/icons/icon-192.png",
      tag: data.tag || undefined,
      data: { url: sameOriginUrl(data.url) },
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = sameOriginUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        if (client.url === target && "focus" in client) return client.focus();
      }
      for (const client of windows) {
        if ("navigate" in client && "focus" in client) {
          try {
            await client.focus();
            return await client.navigate(target);
          } catch (e) { /* not controlled: fall through to openWindow */ }
        }
      }
      return self.clients.openWindow(target);
    })()
  );
});
