/*
 * edgestats tracker: page views and custom events without cookies or storage.
 *
 * Paste into a page:  <script defer src="/_e/tracker.min.js"></script>
 * Custom events:      edgestats('signup')
 *
 * - Sends {u: page URL, r: referrer[, n: event name]} to `<api>/collect` with
 *   navigator.sendBeacon as text/plain (a "simple" request: no CORS preflight), and
 *   falls back to the pixel `<api>/p.gif?u=..&r=..[&n=..]` when there is no beacon.
 * - <api> is "/_e", or the script tag's data-api attribute (e.g. a collector on
 *   another host: data-api="https://stats.example.com/_e").
 * - Single-page apps: history.pushState and back/forward (popstate) count as page
 *   views when the path or query changes.
 * - Do Not Track: not honoured by default, like Plausible, because nothing personal
 *   is collected and the server-side doors (log stream, Lambda@Edge) count every
 *   request anyway; add data-respect-dnt to skip viewers with DNT or GPC set.
 * - Calls made before the script loads are queued by the optional stub
 *   window.edgestats = window.edgestats || function () {
 *     (edgestats.q = edgestats.q || []).push(arguments) };
 * Minified into tracker.min.js with terser (see docs/tracker.md).
 */
(function (w, d) {
  'use strict';
  var loc = w.location;
  var nav = w.navigator;
  var script = d.currentScript;
  var api = (script && script.getAttribute('data-api')) || '/_e';
  var queued = (w.edgestats && w.edgestats.q) || [];
  var lastPage;

  if (script && script.hasAttribute('data-respect-dnt') &&
      (nav.doNotTrack == '1' || nav.globalPrivacyControl)) {
    return;
  }

  function send(name) {
    var body = { u: loc.href, r: d.referrer };
    var sent;
    if (name) body.n = name;
    try {
      sent = nav.sendBeacon(api + '/collect', JSON.stringify(body));
    } catch (e) { /* no beacon: the pixel below */ }
    if (!sent) {
      new Image().src = api + '/p.gif?u=' + encodeURIComponent(body.u) +
        '&r=' + encodeURIComponent(body.r) + (name ? '&n=' + encodeURIComponent(name) : '');
    }
  }

  function page() {
    var key = loc.pathname + loc.search;
    if (key != lastPage) {
      lastPage = key;
      send();
    }
  }

  var history = w.history;
  var pushState = history.pushState;
  if (pushState) {
    history.pushState = function () {
      pushState.apply(history, arguments);
      page();
    };
    w.addEventListener('popstate', page);
  }

  w.edgestats = function (name) {
    if (name) send('' + name);
  };
  page();
  for (var i = 0; i < queued.length; i++) w.edgestats(queued[i][0]);
})(window, document);
