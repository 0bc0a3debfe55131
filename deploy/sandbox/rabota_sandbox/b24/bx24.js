/* BX24 JS library emulation of the Bitrix24 sandbox (served at /api/v1/).
   Runs inside the app's iframe and talks to the portal page through postMessage; REST calls go
   straight to the portal's REST endpoint like the real library does. */
(function (window) {
  "use strict";
  if (window.BX24) { return; }
  var query = new URLSearchParams(window.location.search);
  var APP_SID = query.get("APP_SID") || "";
  var DOMAIN = query.get("DOMAIN") || "";
  var PROTOCOL = query.get("PROTOCOL") || "0";
  var LANG = query.get("LANG") || "ru";
  var state = {auth: null, placement: "DEFAULT", options: {}, isAdmin: false, ready: false, install: false};
  var readyCallbacks = [];
  var pending = {};
  var closeCallbacks = {};
  var seq = 0;

  function send(cmd, data) {
    return new Promise(function (resolve) {
      var id = ++seq;
      pending[id] = resolve;
      var msg = {source: "bx24-sandbox", appSid: APP_SID, cmd: cmd, id: id};
      Object.keys(data || {}).forEach(function (k) { msg[k] = data[k]; });
      window.parent.postMessage(msg, "*");
    });
  }

  window.addEventListener("message", function (ev) {
    var m = ev.data;
    if (!m || m.source !== "bx24-sandbox-parent") { return; }
    if (m.cmd === "closed" && closeCallbacks[m.id]) {
      var cb = closeCallbacks[m.id]; delete closeCallbacks[m.id]; cb();
      return;
    }
    if (pending[m.id]) { var r = pending[m.id]; delete pending[m.id]; r(m); }
  });

  function endpoint() {
    if (state.auth && state.auth.client_endpoint) { return state.auth.client_endpoint; }
    return (PROTOCOL === "1" ? "https" : "http") + "://" + DOMAIN + "/rest/";
  }

  /* PHP http_build_query (used for batch commands). */
  function buildQuery(obj, prefix) {
    var parts = [];
    Object.keys(obj || {}).forEach(function (k) {
      var v = obj[k], key = prefix ? prefix + "[" + k + "]" : k;
      if (v !== null && typeof v === "object") { parts.push(buildQuery(v, key)); }
      else if (v !== undefined) {
        var s = v === true ? "1" : (v === false || v === null ? "" : String(v));
        parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(s));
      }
    });
    return parts.filter(Boolean).join("&");
  }

  function AjaxError(answer, status) { this.ex = answer; this.status = status; }
  AjaxError.prototype.getError = function () { return this.ex; };
  AjaxError.prototype.getStatus = function () { return this.status; };
  AjaxError.prototype.toString = function () {
    return this.ex.error + (this.ex.error_description ? ": " + this.ex.error_description : "");
  };

  function AjaxResult(answer, status, method, params, callback) {
    this.answer = answer; this.status = status; this.query = {method: method, data: params, callback: callback};
  }
  AjaxResult.prototype.data = function () { return this.answer.result; };
  AjaxResult.prototype.error = function () {
    return this.answer.error !== undefined ? new AjaxError(this.answer, this.status) : null;
  };
  AjaxResult.prototype.error_description = function () { return this.answer.error_description; };
  AjaxResult.prototype.more = function () { return this.answer.next !== undefined; };
  AjaxResult.prototype.total = function () { return this.answer.total; };
  AjaxResult.prototype.time = function () { return this.answer.time; };
  AjaxResult.prototype.next = function (cb) {
    if (!this.more()) { return false; }
    var p = Object.assign({}, this.query.data || {}, {start: this.answer.next});
    BX24.callMethod(this.query.method, p, cb || this.query.callback);
    return true;
  };

  function rest(method, params, retried) {
    var body = Object.assign({}, params || {}, {auth: state.auth ? state.auth.access_token : ""});
    return fetch(endpoint() + method + ".json", {
      method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { return {answer: j, status: r.status}; });
    }).then(function (res) {
      if (res.answer && res.answer.error === "expired_token" && !retried) {
        return refresh().then(function () { return rest(method, params, true); });
      }
      return res;
    });
  }

  function refresh() {
    return send("refreshAuth").then(function (m) { if (m.auth) { state.auth = m.auth; } return state.auth; });
  }

  var BX24 = {
    init: function (cb) {
      if (state.ready) { if (cb) { cb(); } return; }
      if (cb) { readyCallbacks.push(cb); }
      if (readyCallbacks.length > 1) { return; }
      send("init").then(function (m) {
        state.auth = m.auth; state.placement = m.placement || "DEFAULT"; state.options = m.options || {};
        state.isAdmin = !!m.isAdmin; state.install = !!m.install; state.ready = true;
        var cbs = readyCallbacks; readyCallbacks = [];
        cbs.forEach(function (f) { try { f(); } catch (e) { console.error(e); } });
      });
    },
    ready: function (cb) { BX24.init(cb); },
    isReady: function () { return state.ready; },
    install: function (cb) { BX24.init(cb); },
    installFinish: function () { return send("installFinish"); },
    getAuth: function () {
      if (!state.auth) { return false; }
      if (state.auth.expires && state.auth.expires * 1000 <= Date.now()) { return false; }
      return {access_token: state.auth.access_token, refresh_token: state.auth.refresh_token,
              expires_in: state.auth.expires_in, domain: state.auth.domain, member_id: state.auth.member_id};
    },
    refreshAuth: function (cb) { refresh().then(function () { if (cb) { cb(BX24.getAuth()); } }); },
    getDomain: function () { return DOMAIN; },
    getLang: function () { return LANG; },
    isAdmin: function () { return state.isAdmin; },
    callMethod: function (method, params, cb) {
      return rest(method, params).then(function (res) {
        var result = new AjaxResult(res.answer, res.status, method, params, cb);
        if (cb) { cb(result); }
        return result;
      });
    },
    callBatch: function (calls, cb, halt) {
      var cmd = Array.isArray(calls) ? [] : {};
      var keys = Object.keys(calls);
      keys.forEach(function (k) {
        var c = calls[k], method = Array.isArray(c) ? c[0] : c.method, params = Array.isArray(c) ? c[1] : c.params;
        var q = buildQuery(params || {});
        cmd[k] = method + (q ? "?" + q : "");
      });
      return rest("batch", {halt: halt ? 1 : 0, cmd: cmd}).then(function (res) {
        var out = Array.isArray(calls) ? [] : {};
        var r = (res.answer && res.answer.result) || {};
        keys.forEach(function (k) {
          var answer;
          if (r.result_error && r.result_error[k]) { answer = r.result_error[k]; }
          else {
            answer = {result: r.result ? r.result[k] : undefined, time: r.result_time ? r.result_time[k] : undefined};
            if (r.result_total && r.result_total[k] !== undefined) { answer.total = r.result_total[k]; }
            if (r.result_next && r.result_next[k] !== undefined) { answer.next = r.result_next[k]; }
          }
          var c = calls[k];
          out[k] = new AjaxResult(answer, res.status, Array.isArray(c) ? c[0] : c.method,
                                  Array.isArray(c) ? c[1] : c.params);
        });
        if (cb) { cb(out); }
        return out;
      });
    },
    openApplication: function (params, closeCb, settings) {
      var closeId = ++seq;
      if (closeCb) { closeCallbacks[closeId] = closeCb; }
      return send("openApplication", {params: params || {}, settings: settings || {}, closeId: closeId});
    },
    closeApplication: function () { return send("closeApplication"); },
    // Opens a portal path (a CRM card) in the portal, like Bitrix24's slider; only portal-relative paths.
    openPath: function (path, cb) {
      return send("openPath", {path: String(path || "")}).then(function (m) { if (cb) { cb(m.result || m); } });
    },
    // The portal's employee picker: the callback gets the chosen user ({id, name, photo, position, url, sub, sup}).
    selectUser: function (cb) {
      return send("selectUser").then(function (m) { if (m.user && cb) { cb(m.user); } });
    },
    fitWindow: function () {
      // The content's own height (documentElement.scrollHeight never drops below the frame's height,
      // so the frame could only grow).
      var body = document.body;
      var height = body ? Math.max(body.scrollHeight, body.offsetHeight) : document.documentElement.scrollHeight;
      return send("fitWindow", {height: height});
    },
    resizeWindow: function (width, height) { return send("resizeWindow", {width: width, height: height}); },
    scrollParentWindow: function () {},
    // Like Bitrix24: the portal opens the app frame again (a fresh POST with new AUTH_ID/REFRESH_ID).
    reloadWindow: function () { return send("reloadWindow"); },
    im: {
      // BX24.im.openMessenger(dialogId), void (b24restdocs sdk/bx24-js-sdk/additional-functions/
      // bx24-im-open-messenger.md): dialogId is a user id ("userId", digits), "chat<id>" (a chat: an Open Line
      // dialogue is one), "sg<id>" (a workgroup's chat) or "imol|<code>" (an Open Line by imopenlines.network.join's
      // code); nothing opens the last dialogue. Strict: any other value throws, so a wrong form never goes unnoticed.
      openMessenger: function (dialogId) {
        var empty = dialogId === undefined || dialogId === null || dialogId === "";
        var id = empty ? "" : String(dialogId);
        var isUser = typeof dialogId === "number" ? Number.isInteger(dialogId) && dialogId > 0 : /^[1-9]\d*$/.test(id);
        if (!empty && !isUser && !/^(chat[1-9]\d*|sg[1-9]\d*|imol\|[^\s|]+)$/.test(id)) {
          throw new TypeError("BX24.im.openMessenger: dialogId must be a user id, chat<id>, sg<id> or imol|<code>, not " +
                              JSON.stringify(dialogId));
        }
        send("openMessenger", {dialogId: id});
      }
    },
    placement: {
      info: function () { return {placement: state.placement, options: state.options}; },
      getInterface: function (cb) { if (cb) { cb({command: [], event: []}); } },
      call: function (command, params, cb) { if (cb) { cb(); } },
      bindEvent: function () {}
    }
  };
  window.BX24 = BX24;
})(window);
