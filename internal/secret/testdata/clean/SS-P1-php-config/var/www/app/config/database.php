<?php
return [
    'mysql' => [
        'host' => env('DB_HOST', '127.0.0.1'),
        'password' => env('DB_PASSWORD', ''),
    ],
];
