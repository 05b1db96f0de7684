<?php
/*
 * This IdP: its entity ID, signing key and certificate (made at run time by tests/e2e/idp_saml.py), and the
 * users it authenticates (exampleauth:UserPass). Assertions are signed with RSA-SHA256 (the default).
 */

$state = require dirname(__DIR__) . '/config/state.php';

$metadata[$state['entity_id']] = [
    'host' => '__DEFAULT__',
    'privatekey' => $state['private_key_path'],
    'certificate' => $state['certificate_path'],
    'auth' => 'example-userpass',
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    'saml20.sign.assertion' => true,
];
