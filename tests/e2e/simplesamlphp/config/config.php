<?php
/*
 * SimpleSAMLphp 1.19 configuration for orgsecurity's end-to-end tests and `make idp`: a SAML 2.0 IdP only,
 * users from exampleauth:UserPass, served over plain HTTP by `php -S` on 127.0.0.1.
 */

$state = require __DIR__ . '/state.php';

$config = [
    'baseurlpath' => $state['base_url'] . '/',
    'certdir' => $state['run_dir'] . '/',
    'loggingdir' => $state['run_dir'] . '/',
    'datadir' => $state['run_dir'] . '/data/',
    'tempdir' => $state['run_dir'] . '/tmp/',
    'metadatadir' => dirname(__DIR__) . '/metadata/',
    'technicalcontact_name' => 'orgsecurity tests',
    'technicalcontact_email' => 'idp-admin@example.test',
    'timezone' => 'UTC',

    'secretsalt' => $state['secret_salt'],
    'auth.adminpassword' => $state['admin_password'],
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,
    // Hosts SimpleSAMLphp may redirect to after logout and on its own pages (the SPs of this run).
    'trusted.url.domains' => $state['trusted_domains'],

    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'enable.adfs-idp' => false,
    'assertion.allowed_clock_skew' => 180,

    // Log every SAML message at debug level to stderr: the harness puts it in the report of a failing test.
    'debug' => ['saml' => true, 'backtraces' => true, 'validatexml' => false],
    'showerrors' => true,
    'errorreporting' => false,
    'logging.level' => SimpleSAML\Logger::DEBUG,
    'logging.handler' => 'stderr',
    'logging.processname' => 'simplesamlphp',
    'statistics.out' => [],

    // Debian ships exampleauth switched off; the test users live in it.
    'module.enable' => [
        'exampleauth' => true,
        'core' => true,
        'saml' => true,
        'admin' => true,
    ],

    // Plain HTTP on 127.0.0.1: a Secure cookie would not stick. No SameSite attribute means Lax in chromium,
    // which is what the IdP needs (the SP sends the browser here with top-level GET redirects).
    'session.duration' => 8 * 60 * 60,
    'session.cookie.name' => 'SimpleSAMLSessionID',
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'session.phpsession.cookiename' => 'SimpleSAML',
    'session.phpsession.savepath' => $state['run_dir'] . '/sessions',
    'session.phpsession.httponly' => true,
    'language.cookie.secure' => false,
    'language.cookie.samesite' => null,
    'store.type' => 'phpsession',

    'metadata.sources' => [['type' => 'flatfile']],
    'metadata.sign.enable' => false,
    'production' => true,
    'theme.use' => 'default',

    // NameIDs: persistent = the user's stable opaque uid, emailAddress = mail. Which one an SP gets follows its
    // AuthnRequest's NameIDPolicy, else its registered NameIDFormat, else the IdP's (persistent).
    'authproc.idp' => [
        10 => [
            'class' => 'saml:AttributeNameID',
            'attribute' => 'uid',
            'Format' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
        ],
        11 => [
            'class' => 'saml:AttributeNameID',
            'attribute' => 'mail',
            'Format' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        ],
    ],
];
