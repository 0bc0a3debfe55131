/* Portal page of the Bitrix24 sandbox: hosts app frames the way Bitrix24 does (POST of the frame
   parameters into an iframe) and answers the BX24 library (bx24.js) through postMessage. */
(function () {
  "use strict";
  var PORTAL = document.body.dataset.portal;
  var frames = {};  // APP_SID -> {frame, iframe, opener, closeId}
  var userSelect = document.getElementById("b24-user-select");

  function userId() { return parseInt(localStorage.getItem("b24sbx-user") || "1", 10); }
  if (userSelect) {
    userSelect.value = String(userId());
    userSelect.addEventListener("change", function () { localStorage.setItem("b24sbx-user", userSelect.value); });
  }

  function toast(text) {
    var el = document.getElementById("b24-toast");
    el.textContent = text; el.hidden = false;
    clearTimeout(toast.t); toast.t = setTimeout(function () { el.hidden = true; }, 4000);
  }

  function control(path, body) {
    return fetch("/_sandbox/portals/" + PORTAL + path, {
      method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) { throw new Error(j.error_description || ("HTTP " + r.status)); }
        return j;
      });
    });
  }

  /* What Bitrix24 does: a form with the frame parameters, POSTed into the iframe. */
  function submitFrame(frame, iframe, opener) {
    var sid = frame.query.APP_SID;
    frames[sid] = {frame: frame, iframe: iframe, opener: opener || null};
    var form = document.createElement("form");
    form.method = "POST";
    form.target = iframe.name;
    form.action = frame.url + "?" + new URLSearchParams(frame.query).toString();
    Object.keys(frame.form).forEach(function (k) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = k; input.value = frame.form[k];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
    form.remove();
    iframe.hidden = false;
  }

  function openFrame(target, options, iframe, opener) {
    return control("/frame", {user_id: userId(), target: target, placement: "DEFAULT", placement_options: options || {}})
      .then(function (frame) { submitFrame(frame, iframe, opener); return frame; });
  }

  var slider = document.getElementById("b24-slider");
  var sliderFrame = slider.querySelector("iframe");
  function openSlider(title, width) {
    slider.querySelector(".b24-slider-title").textContent = title || "rabota.by";
    slider.querySelector(".b24-slider-panel").style.width = width ? (Math.min(width, window.innerWidth - 60) + "px") : "";
    sliderFrame.src = "about:blank";
    slider.hidden = false;
    return sliderFrame;
  }
  function closeSlider() {
    if (slider.hidden) { return; }
    slider.hidden = true;
    Object.keys(frames).forEach(function (sid) {
      var e = frames[sid];
      if (e.iframe === sliderFrame) {
        if (e.opener && e.opener.source) {
          e.opener.source.postMessage({source: "bx24-sandbox-parent", cmd: "closed", id: e.opener.closeId}, "*");
        }
        delete frames[sid];
      }
    });
    sliderFrame.src = "about:blank";
  }
  slider.querySelector(".b24-slider-close").addEventListener("click", closeSlider);
  slider.querySelector(".b24-slider-shade").addEventListener("click", closeSlider);

  function pickUser() {
    return fetch("/_sandbox/portals/" + PORTAL + "/users").then(function (r) { return r.json(); }).then(function (users) {
      return new Promise(function (resolve) {
        var dlg = document.createElement("dialog");
        dlg.className = "b24-user-picker"; dlg.setAttribute("aria-label", "Выбор сотрудника");
        dlg.innerHTML = '<h2>Выбор сотрудника</h2><input type="search" placeholder="Поиск сотрудника" aria-label="Поиск сотрудника">' +
          '<ul role="listbox" aria-label="Сотрудники"></ul><button type="button" class="b24-btn light">Отмена</button>';
        var list = dlg.querySelector("ul"), search = dlg.querySelector("input"), chosen = null;
        function render() {
          var q = search.value.toLowerCase();
          list.innerHTML = "";
          users.filter(function (u) { return u.ACTIVE && (u.NAME + " " + u.LAST_NAME).toLowerCase().indexOf(q) >= 0; })
            .forEach(function (u) {
              var li = document.createElement("li");
              li.setAttribute("role", "option"); li.tabIndex = 0;
              li.textContent = u.NAME + " " + u.LAST_NAME + (u.WORK_POSITION ? " — " + u.WORK_POSITION : "");
              function pick() {
                chosen = {id: String(u.ID), name: u.NAME + " " + u.LAST_NAME, photo: "", position: u.WORK_POSITION || "",
                          url: "/company/personal/user/" + u.ID + "/", sub: false, sup: false};
                dlg.close();
              }
              li.addEventListener("click", pick);
              li.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { pick(); } });
              list.appendChild(li);
            });
        }
        search.addEventListener("input", render);
        dlg.querySelector("button").addEventListener("click", function () { dlg.close(); });
        dlg.addEventListener("close", function () { dlg.remove(); resolve(chosen); });
        document.body.appendChild(dlg);
        render();
        dlg.showModal();
        search.focus();
      });
    }, function () { return null; });
  }

  function authOf(frame) {
    var proto = frame.query.PROTOCOL === "1" ? "https" : "http";
    return {
      access_token: frame.form.AUTH_ID, refresh_token: frame.form.REFRESH_ID,
      expires_in: parseInt(frame.form.AUTH_EXPIRES, 10), expires: Math.floor(Date.now() / 1000) + parseInt(frame.form.AUTH_EXPIRES, 10),
      domain: frame.query.DOMAIN, member_id: frame.form.member_id, status: frame.form.status,
      client_endpoint: proto + "://" + frame.query.DOMAIN + "/rest/", server_endpoint: frame.form.SERVER_ENDPOINT
    };
  }

  window.addEventListener("message", function (ev) {
    var msg = ev.data;
    if (!msg || msg.source !== "bx24-sandbox") { return; }
    var entry = frames[msg.appSid];
    if (!entry) { return; }
    function reply(payload) {
      payload = payload || {};
      payload.source = "bx24-sandbox-parent"; payload.id = msg.id; payload.cmd = msg.cmd;
      ev.source.postMessage(payload, "*");
    }
    var user = null;
    if (userSelect) { user = userSelect.options[userSelect.selectedIndex].text; }
    switch (msg.cmd) {
      case "init":
        reply({auth: authOf(entry.frame), placement: entry.frame.form.PLACEMENT,
               options: JSON.parse(entry.frame.form.PLACEMENT_OPTIONS || "{}"), lang: entry.frame.query.LANG,
               isAdmin: user ? user.indexOf("(админ)") >= 0 : false,
               install: /\/b24\/install/.test(entry.frame.url)});
        break;
      case "refreshAuth":
        control("/frame", {user_id: userId(), target: "app"}).then(function (f) {
          entry.frame.form.AUTH_ID = f.form.AUTH_ID; entry.frame.form.REFRESH_ID = f.form.REFRESH_ID;
          reply({auth: authOf(entry.frame)});
        }, function (e) { reply({error: String(e)}); });
        break;
      case "installFinish":
        control("/install-finish").then(function (res) {
          reply({ok: true});
          var d = res.delivery;
          sessionStorage.setItem("b24sbx-toast", "Приложение установлено" +
                                 (d ? " · ONAPPINSTALL → " + (d.status || d.error) : ""));
          // Like Bitrix24: the installer phase is over, the page reloads and the app starts.
          setTimeout(function () { location.reload(); }, 200);
        }, function (e) { reply({error: String(e)}); toast("installFinish: " + e.message); });
        break;
      case "openApplication":
        var params = msg.params || {}, settings = msg.settings || {};
        var opts = {};
        Object.keys(params).forEach(function (k) { opts[k] = params[k]; });
        Object.keys(settings).forEach(function (k) { opts["bx24_" + k] = String(settings[k]); });
        openFrame("app", opts, openSlider(settings.title, settings.width),
                  {source: ev.source, closeId: msg.closeId});
        reply({ok: true});
        break;
      case "openPath":
        // The sandbox's CRM cards live under /portal/<code>/crm/<entityTypeId>/<id>/ (page.crm_link).
        var m = /^\/crm\/(lead|deal|contact)\/details\/(\d+)\/?$/.exec(msg.path || "");
        var t = /^\/crm\/type\/(\d+)\/details\/(\d+)\/?$/.exec(msg.path || "");
        var link = m ? "/portal/" + PORTAL + "/crm/" + {lead: 1, deal: 2, contact: 3}[m[1]] + "/" + m[2] + "/" :
          t ? "/portal/" + PORTAL + "/crm/" + t[1] + "/" + t[2] + "/" : null;
        if (!link) { reply({result: {result: "error", errorCode: "PATH_NOT_AVAILABLE"}}); break; }
        reply({result: {result: "close"}});
        window.location.href = link;
        break;
      case "openMessenger":
        // Bitrix24 opens its messenger over the page; the sandbox's messenger is the portal's «Открытые линии» page,
        // so only Open Line dialogues open ("chat<id>" of this portal; nothing: the last one). Others are told.
        var dialogId = msg.dialogId || "";
        var chatOf = /^chat(\d+)$/.exec(dialogId);
        if (dialogId && !chatOf) {
          toast("Мессенджер песочницы открывает только диалоги открытых линий, не «" + dialogId + "»");
          reply({ok: false});
          break;
        }
        fetch("/_sandbox/portals/" + PORTAL + "/openlines").then(function (r) { return r.json(); }).then(function (ol) {
          var chat = chatOf ? parseInt(chatOf[1], 10) : 0;
          if (chat && !(ol.dialogues || []).some(function (d) { return d.chat_id === chat; })) {
            toast("Чат " + dialogId + " не найден: нет такого диалога в открытых линиях портала");
            reply({ok: false});
            return;
          }
          reply({ok: true});
          window.location.href = "/portal/" + PORTAL + "/openlines/" + (chat ? "?chat=" + chat : "");
        }, function (e) { toast(String(e)); reply({ok: false}); });
        break;
      case "reloadWindow":
        reply({ok: true});
        delete frames[msg.appSid];
        openFrame(/\/b24\/install/.test(entry.frame.url) ? "install" : "app",
                  JSON.parse(entry.frame.form.PLACEMENT_OPTIONS || "{}"), entry.iframe, entry.opener)
          .catch(function (e) { toast(e.message); });
        break;
      case "closeApplication":
        if (entry.iframe === sliderFrame) { closeSlider(); }
        reply({ok: true});
        break;
      case "selectUser":
        // Bitrix24's employee picker: active employees, a search line; the callback gets {id, name, photo,
        // position, url, sub, sup} of the one chosen, and is not called when the picker is closed.
        pickUser().then(function (u) { reply(u ? {user: u} : {}); });
        break;
      case "resizeWindow":
      case "fitWindow":
        if (msg.height && entry.iframe !== sliderFrame) { entry.iframe.style.height = Math.max(200, msg.height) + "px"; }
        reply({ok: true});
        break;
      default:
        reply({error: "unknown command " + msg.cmd});
    }
  });

  if (sessionStorage.getItem("b24sbx-toast")) {
    toast(sessionStorage.getItem("b24sbx-toast"));
    sessionStorage.removeItem("b24sbx-toast");
  }

  // --- portal home: install / open / uninstall
  var appFrame = document.getElementById("b24-app-frame");
  var installBtn = document.querySelector("[data-install]");
  if (installBtn) {
    installBtn.addEventListener("click", function () {
      installBtn.disabled = true;
      openFrame("install", {}, appFrame).catch(function (e) { toast(e.message); installBtn.disabled = false; });
    });
  }
  var openBtn = document.querySelector("[data-open-app]");
  if (openBtn) { openBtn.addEventListener("click", function () { openFrame("app", {}, appFrame); }); }
  document.querySelectorAll("[data-uninstall]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      if (!confirm("Удалить приложение с портала?")) { return; }
      control("/uninstall", {clean: parseInt(btn.dataset.uninstall, 10)}).then(function () { location.reload(); },
        function (e) { toast(e.message); });
    });
  });
  if (appFrame && window.B24_AUTO_OPEN) { openFrame("app", {}, appFrame).catch(function (e) { toast(e.message); }); }

  // --- card placements (CRM_*_DETAIL_ACTIVITY): the app in a slider, PLACEMENT_OPTIONS {"ID": <entity id>}
  document.querySelectorAll("[data-placement]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      control("/frame", {user_id: userId(), target: "app", placement: btn.dataset.placement,
                         placement_options: {ID: btn.dataset.entity}})
        .then(function (frame) { submitFrame(frame, openSlider(btn.dataset.title, 760)); },
              function (e) { toast(e.message); });
    });
  });

  // --- timeline buttons (restEvent / openRestApp) of configurable activities
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-activity][data-action]");
    if (!el) { return; }
    ev.preventDefault();
    control("/activities/" + el.dataset.activity + "/action", {action: el.dataset.action, user_id: userId()})
      .then(function (res) {
        if (res.type === "redirect") { window.open(res.uri, "_blank", "noopener"); }
        else if (res.type === "openRestApp") {
          var s = res.slider || {};
          submitFrame(res.frame, openSlider(s.title, s.width));
        } else if (res.type === "restEvent") {
          var d = res.deliveries || [];
          toast(d.length ? "onCrmTimelineItemAction → " + d.map(function (x) { return x.status || x.error; }).join(", ")
                         : "Нет обработчиков onCrmTimelineItemAction");
        }
      }, function (e) { toast(e.message); });
  });

  // --- index: new portal
  var newPortal = document.getElementById("b24-new-portal");
  if (newPortal) {
    newPortal.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var fd = new FormData(newPortal);
      fetch("/_sandbox/portals", {method: "POST", headers: {"content-type": "application/json"},
        body: JSON.stringify({code: fd.get("code"), crm_mode: parseInt(fd.get("crm_mode"), 10)})})
        .then(function (r) { return r.json().then(function (j) { if (!r.ok) { throw new Error(j.error_description); } return j; }); })
        .then(function (p) { location.href = "/portal/" + p.code + "/"; }, function (e) { toast(e.message); });
    });
  }
})();
