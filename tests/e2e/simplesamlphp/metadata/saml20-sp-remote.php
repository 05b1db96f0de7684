<?php
/*
 * The SPs this IdP trusts, registered by tests/e2e/idp_saml.py (SimpleSAMLphpIdP.register_sp): either from
 * the SP's metadata XML, or from an entity ID, ACS URL and SLO URL. Extra SimpleSAMLphp SP options
 * (e.g. 'saml20.sign.response', 'validate.authnrequest', 'NameIDFormat') are merged over either.
 */

$state = require dirname(__DIR__) . '/config/state.php';

foreach ($state['service_providers'] as $sp) {
    if (isset($sp['metadata_xml'])) {
        $entities = \SimpleSAML\Metadata\SAMLParser::parseDescriptorsString($sp['metadata_xml']);
        foreach ($entities as $entityId => $entity) {
            $parsed = $entity->getMetadata20SP();
            if ($parsed !== null) {
                $metadata[$entityId] = array_merge($parsed, $sp['options']);
            }
        }
        continue;
    }
    $entry = [
        'AssertionConsumerService' => [[
            'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
            'Location' => $sp['acs_url'],
        ]],
    ];
    if (isset($sp['slo_url'])) {
        $entry['SingleLogoutService'] = [
            ['Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', 'Location' => $sp['slo_url']],
            ['Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 'Location' => $sp['slo_url']],
        ];
    }
    $metadata[$sp['entity_id']] = array_merge($entry, $sp['options']);
}
