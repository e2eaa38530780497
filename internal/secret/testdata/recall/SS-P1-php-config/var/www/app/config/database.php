<?php
return [
    'connections' => [
        'mysql' => [
            'driver' => 'mysql',
            'host' => 'db',
            'database' => 'app',
            'username' => 'app',
            'password' => 'Lv6#zQ8mXp2w',
        ],
    ],
];
