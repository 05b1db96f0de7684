<?php
/*
 * Authentication sources: `example-userpass` holds the test users (username:password => attributes), and
 * `admin` guards SimpleSAMLphp's own admin pages.
 */

$state = require __DIR__ . '/state.php';

$users = [];
foreach ($state['users'] as $user) {
    $users[$user['username'] . ':' . $user['password']] = $user['attributes'];
}

$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => array_merge(['exampleauth:UserPass'], $users),
];
