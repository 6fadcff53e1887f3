// Funnelscope's clientside callbacks, called from app/callbacks/camera.py and app/callbacks/url.py
// through ClientsideFunction(namespace="funnelscope", function_name=...).
//
// What they need from the server side (the two 3D graphs' ids, the default camera, how long a
// URL's camera waits for a graph, the copy-link status id) comes as the data of the dcc.Store
// "clientside-config" (app.ids.CLIENTSIDE, written by app/layout.py: clientside_config), passed
// to each callback that needs it as its last argument: nothing here is templated.
//
// Camera: the two graphs share one camera (fs.shared; null: the figures' default), which every
// camera turn of a graph updates at once. A figure from the server always carries the default
// camera, and uirevision keeps a turned camera only while the figure's own camera does not
// change: so after each new figure a graph draws (plotly_afterplot with a new layout object), a
// graph that does not show the shared camera is turned to it. A URL's camera waits in
// fs.pending for the first draw of a graph.
(function () {
  "use strict";
  const fs = window.__funnelscope = window.__funnelscope || {};

  const copyCamera = camera => JSON.parse(JSON.stringify(camera));

  // once per page: the constants from the config store
  fs.init = config => {
    if (fs.ids) { return; }
    fs.sides = Object.keys(config.graphs);
    fs.ids = config.graphs;
    fs.defaultCamera = config.defaultCamera;
    fs.pendingMs = config.pendingMs;
    fs.shared = null;
    fs.pending = {};
  };
  fs.graph = side => document.querySelector("#" + fs.ids[side] + " .js-plotly-plot");
  fs.drawn = gd => !!(gd && gd._fullLayout && gd._fullLayout.scene && gd._fullLayout.scene._scene);
  fs.cameraOf = gd => {
    const scene = gd && gd._fullLayout && gd._fullLayout.scene;
    const c = scene && scene.camera;
    return c ? copyCamera({eye: c.eye, up: c.up, center: c.center}) : null;
  };
  fs.same = (a, b) => ["eye", "up", "center"].every(part => ["x", "y", "z"].every(k => {
    const u = ((a || fs.defaultCamera)[part] || fs.defaultCamera[part])[k];
    const v = ((b || fs.defaultCamera)[part] || fs.defaultCamera[part])[k];
    return Math.abs(u - v) <= 1e-3;
  }));
  fs.turn = (gd, camera) => window.Plotly.relayout(gd, {"scene.camera": copyCamera(camera)});
  fs.follow = side => {  // true if the graph was turned to the shared camera
    const gd = fs.graph(side);
    if (!fs.drawn(gd) || (!fs.pending[side] && gd.layout === gd.__fsLayout)) {
      return false;
    }
    delete fs.pending[side];
    gd.__fsLayout = gd.layout;
    const want = fs.shared || fs.defaultCamera;
    if (fs.same(fs.cameraOf(gd), want)) { return false; }
    fs.turn(gd, want);
    return true;
  };
  fs.seen = side => {  // what a graph shows now is not new (the user may have turned it)
    const gd = fs.graph(side);
    if (fs.drawn(gd) && gd.__fsLayout === undefined && !fs.pending[side]) {
      gd.__fsLayout = gd.layout;
    }
  };
  fs.watch = () => {  // true once both graphs report their draws and turns
    return fs.sides.filter(side => {
      const gd = fs.graph(side);
      if (gd && gd.on && !gd.__fsWatched) {
        gd.__fsWatched = true;
        gd.on("plotly_afterplot", () => fs.follow(side));
        gd.on("plotly_relayout", event => {
          if (Object.keys(event || {}).some(key => key.startsWith("scene.camera"))) {
            fs.shared = fs.cameraOf(gd);
          }
        });
      }
      return !!(gd && gd.__fsWatched);
    }).length === fs.sides.length;
  };
  fs.poll = () => {  // until both graphs are watched and a URL's camera is shown
    clearTimeout(fs.timer);
    const watched = fs.watch();
    fs.sides.forEach(fs.follow);
    if (Date.now() > fs.deadline) { fs.pending = {}; }
    if (!watched || Object.keys(fs.pending).length) {
      fs.timer = setTimeout(fs.poll, 300);
    }
  };

  // The page's URL to the clipboard; without the Clipboard API (a page served over plain http
  // from another machine is not a secure context) a hidden textarea and execCommand("copy").
  const copyText = url => {
    const area = document.createElement("textarea");
    area.value = url;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    document.body.removeChild(area);
    return copied ? "link copied" : "could not copy: the link is this page's address";
  };

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    funnelscope: {
      // Reads both cameras from the graphs themselves: relayoutData holds only the latest event,
      // and an autosize event can replace a camera change before this runs. The graph whose
      // camera differs from the last synced one is the one the user moved; the other is turned
      // to it. The shared camera goes to the CAMERA store (and from there into the URL) when it
      // changes.
      cameraSync: function (leftRelayout, rightRelayout, stored, config) {
        const dc = window.dash_clientside;
        fs.init(config);
        fs.watch();
        if (fs.sides.filter(side => fs.pending[side] && fs.follow(side)).length) {
          return dc.no_update;  // a URL's camera just reached a graph
        }
        fs.sides.forEach(fs.seen);
        const cameras = fs.sides.map(side => fs.pending[side] ? null : fs.cameraOf(fs.graph(side)));
        const keep = camera => {
          fs.shared = camera;
          if (fs.same(camera, stored)) { return dc.no_update; }
          fs.fromSync = camera;
          return camera;
        };
        if (!cameras[0] || !cameras[1]) {
          const only = cameras[0] || cameras[1];
          return only ? keep(only) : dc.no_update;
        }
        const text = cameras.map(c => JSON.stringify({eye: c.eye, up: c.up, center: c.center}));
        const last = fs.lastSynced;
        if (text[0] === text[1]) {
          fs.lastSynced = text[0];
          return keep(cameras[0]);
        }
        let source;
        if (last === undefined || (text[0] !== last && text[1] !== last)) {
          const trig = ((dc.callback_context.triggered || [])[0] || {}).prop_id || "";
          source = trig.startsWith(fs.ids[fs.sides[1]] + ".") ? 1 : 0;
        } else {
          source = text[0] !== last ? 0 : 1;
        }
        fs.lastSynced = text[source];
        const camera = {eye: cameras[source].eye, up: cameras[source].up,
                        center: cameras[source].center};
        fs.turn(fs.graph(fs.sides[1 - source]), camera);
        return keep(camera);
      },

      // A camera that came from a URL (the CAMERA store, set by the URL reader) becomes the
      // shared one: both graphs turn to it now, or when they first draw a 3D scene. The sync's
      // own writes are skipped.
      applyCamera: function (camera, config) {
        const dc = window.dash_clientside;
        fs.init(config);
        if (!camera) { return dc.no_update; }
        const own = fs.fromSync && fs.same(camera, fs.fromSync);
        fs.fromSync = null;
        if (own) { return dc.no_update; }
        fs.shared = camera;
        for (const side of fs.sides) {
          const gd = fs.graph(side);
          if (!fs.drawn(gd)) {
            fs.pending[side] = true;
            continue;
          }
          gd.__fsLayout = gd.layout;
          if (!fs.same(fs.cameraOf(gd), camera)) { fs.turn(gd, camera); }
        }
        fs.deadline = Date.now() + fs.pendingMs;
        fs.poll();
        return dc.no_update;
      },

      // The URL writer's target goes into the page's URL: a camera turn replaces the history
      // entry, anything else adds one (dcc.Location pushes an entry when its search or href prop
      // changes). Search and href are set together, so that dcc.Location never pushes a stale
      // href; the query written is marked applied (the controls already show it: the URL reader
      // leaves it alone).
      pushUrl: function (target, search) {
        const dc = window.dash_clientside;
        const none = [dc.no_update, dc.no_update, dc.no_update];
        if (!target || typeof target.search !== "string") { return none; }
        const next = target.search;
        const loc = window.location;
        if (next === search && next === loc.search) { return none; }
        if (target.replace && next !== loc.search) {
          window.history.replaceState(window.history.state, "", loc.pathname + next + loc.hash);
        }
        return [next, loc.origin + loc.pathname + next + loc.hash, next];
      },

      // The page's URL changed: opened, back or forward, or written by pushUrl. Opened without
      // a query, the page starts both panels' default views at once (the START store is an
      // input of the panels' jobs and of both panels' first previews), in its first wave of
      // callbacks, and the query "" is applied. Any other query not applied yet goes to the
      // server's URL reader (the URL_READ store; app/callbacks/url.py), which sets the controls
      // and so starts the panels with the query's settings. The server's reader has no other
      // input: were it called on every page open, Dash would hold the panels' jobs until it
      // answered (it might change their inputs), a round trip later.
      urlChanged: function (search, applied) {
        const dc = window.dash_clientside;
        const text = search || "";
        if ((applied === null || applied === undefined) && text.replace(/^[?]/, "") === "") {
          return [1, text, dc.no_update];
        }
        if (text === applied) { return [dc.no_update, dc.no_update, dc.no_update]; }
        return [dc.no_update, dc.no_update, {search: text, at: Date.now()}];
      },

      // A panel's job ends with its surface (its JOB_SURFACE store), drawn unless the graph
      // shows that very figure already -- the same layout.datarevision, a digest of the whole
      // figure (app/panel_views.py: main_figure) -- as it does when the preview drew it from
      // the cache: Plotly would rebuild every trace of the same surface, 0.15-0.8 s of the
      // page's main thread in software WebGL. A job that could not compute its view ends with
      // a message figure (no traces): it takes the place of nothing drawn or of another
      // message, never of a drawn view, which stays until a new view replaces it (the message
      // is above the graphs too).
      showSurface: function (figure, shown) {
        const rev = f => (f && f.layout && f.layout.datarevision) || null;
        const traces = f => !!(f && Array.isArray(f.data) && f.data.length);
        const same = rev(figure) !== null && rev(figure) === rev(shown);
        const hides = !traces(figure) && traces(shown);
        return same || hides ? window.dash_clientside.no_update : figure;
      },

      // Copy link: the page's URL to the clipboard; the status line clears after 6 seconds.
      copyLink: function (clicks, config) {
        const dc = window.dash_clientside;
        if (!clicks) { return dc.no_update; }
        const url = window.location.href;
        clearTimeout(fs.copyTimer);
        fs.copyTimer = setTimeout(() => dc.set_props(config.copyStatus, {children: ""}), 6000);
        if (navigator.clipboard && window.isSecureContext) {
          return navigator.clipboard.writeText(url).then(() => "link copied", () => copyText(url));
        }
        return copyText(url);
      },

      // This browser session's id (app/fairness.py: a fair share of the job slots per client):
      // kept in sessionStorage by the store; made once, from crypto.getRandomValues (served
      // over plain http on a lab network, crypto.randomUUID is missing: not a secure context).
      // The page's browser-session id (fair job slots, app/fairness.py). When the page is
      // closed for good (pagehide, not kept in the back-forward cache) it says goodbye with the
      // id, and the server stops that session's running panel jobs (POST /api/goodbye).
      clientId: function (timestamp, current) {
        const id = current || Array.from(crypto.getRandomValues(new Uint8Array(16)),
                                         b => b.toString(16).padStart(2, "0")).join("");
        fs.clientId = id;
        if (!fs.goodbyeWatched) {
          fs.goodbyeWatched = true;
          window.addEventListener("pagehide", event => {
            if (event.persisted || !fs.clientId || !navigator.sendBeacon) { return; }
            navigator.sendBeacon("/api/goodbye", new Blob([JSON.stringify({client: fs.clientId})],
                                                          {type: "application/json"}));
          });
        }
        return current ? window.dash_clientside.no_update : id;
      },
    },
  });
})();

