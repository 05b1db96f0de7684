// SAML HTTP-POST binding: submit the AuthnRequest form to the IdP without a click (the button stays as fallback).
document.getElementById("saml-post-binding").submit();
