<?php
/*
 * The per-run settings of this IdP: URLs, paths, secrets, users and trusted SPs.
 *
 * tests/e2e/idp_saml.py writes them as JSON and names the file in $E2E_SIMPLESAMLPHP_STATE; every other file in
 * this configuration reads them through here, so the PHP stays static and nothing is generated as code.
 */

$path = getenv('E2E_SIMPLESAMLPHP_STATE');
if ($path === false || $path === '') {
    throw new \Exception('E2E_SIMPLESAMLPHP_STATE is not set: start this IdP through tests/e2e/idp_saml.py.');
}
return json_decode(file_get_contents($path), true, 64, JSON_THROW_ON_ERROR);
