// Passkeys: a button <button data-webauthn="create|get" data-options-url="..." data-verify-url="..."> asks the
// server for options (POST), calls navigator.credentials.create()/get() and posts the answer back as JSON; the
// server answers {"redirect": url} or {"error": {"code", "message"}}. The CSRF token comes from the page's form.
(function () {
  "use strict";
  function toBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var raw = atob(base64), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function csrf() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf()},
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error((data.error && data.error.message) || "The server refused it."); }
        return data;
      });
    });
  }
  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    options.extensions = {credProps: true};
    return {publicKey: options};
  }
  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return {publicKey: options};
  }
  function created(credential) {
    var response = credential.response;
    return {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      response: {
        clientDataJSON: toText(response.clientDataJSON),
        attestationObject: toText(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : []
      },
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {}
    };
  }
  function asserted(credential) {
    var response = credential.response;
    return {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      response: {
        clientDataJSON: toText(response.clientDataJSON),
        authenticatorData: toText(response.authenticatorData),
        signature: toText(response.signature),
        userHandle: response.userHandle ? toText(response.userHandle) : null
      },
      clientExtensionResults: {}
    };
  }
  function report(button, message) {
    var target = document.getElementById(button.getAttribute("data-status") || "webauthn-status");
    if (target) { target.textContent = message; target.hidden = false; }
  }
  function run(button) {
    var create = button.getAttribute("data-webauthn") === "create";
    var nameField = document.getElementById("passkey-name");
    button.disabled = true;
    report(button, "Follow your browser's prompt…");
    post(button.getAttribute("data-options-url")).then(function (options) {
      return create ? navigator.credentials.create(creationOptions(options))
                    : navigator.credentials.get(requestOptions(options));
    }).then(function (credential) {
      var body = {credential: create ? created(credential) : asserted(credential)};
      if (nameField) { body.name = nameField.value; }
      return post(button.getAttribute("data-verify-url"), body);
    }).then(function (data) {
      window.location.assign(data.redirect);
    }).catch(function (error) {
      report(button, error && error.message ? error.message : "The passkey was not used.");
      button.disabled = false;
    });
  }
  document.querySelectorAll("button[data-webauthn]").forEach(function (button) {
    if (!window.PublicKeyCredential) {
      report(button, "This browser does not support passkeys.");
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () { run(button); });
  });
}());
