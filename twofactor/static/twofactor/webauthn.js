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
        if (!response.ok) {
          var refused = new Error((data.error && data.error.message) || "The server refused it.");
          refused.fromServer = true;  // our own sentence: shown as it is
          throw refused;
        }
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
  // The browser's own errors (DOMException names, WebAuthn Level 3 section 5.1.3 and 5.1.4) in plain sentences:
  // people never see "The operation either timed out or was not allowed. See: https://www.w3.org/TR/webauthn-2/…".
  var PLAIN = {
    NotAllowedError: "The passkey prompt was closed or timed out, so nothing was used. Try again when you are ready.",
    AbortError: "The passkey prompt was cancelled. Try again when you are ready.",
    InvalidStateError: {
      create: "This security key or passkey is already set up for your account. Use another one, or keep this one.",
      get: "This security key or passkey is not set up for your account. Use one you set up, or another method."
    },
    SecurityError: "Passkeys cannot be used at this address. Open the site at its usual address and try again.",
    NotSupportedError: "This device or browser offers no passkey this site can use. Try another security key.",
    ConstraintError: "This security key cannot confirm who you are (with a PIN or fingerprint). Try another one.",
    UnknownError: "Your security key or passkey reported a problem. Try again, or use another one."
  };
  function plain(error, create) {
    if (error && error.fromServer) { return error.message; }
    var known = error && PLAIN[error.name];
    if (known) { return typeof known === "string" ? known : known[create ? "create" : "get"]; }
    return create ? "The passkey could not be set up. Try again, or use another security key."
                  : "The passkey was not used. Try again, or use another method.";
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
      report(button, plain(error, create));
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
