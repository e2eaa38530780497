<?php
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'wp' );
define( 'DB_PASSWORD', 'Wp7#qLz2vX9m' );
define( 'DB_HOST', 'db' );

define( 'AUTH_KEY',         'k]P4{9q@Lz2!vX8#mQ7&tR5^wY3*uE1(oI6)aS0-dF2+gH4=jK6~lZ8' );
define( 'SECURE_AUTH_KEY',  'Q2w#E4r%T6y&U8i*O0p(A1s)D3f-G5h+J7k=L9z~X1c`V3b[N5m]M7q' );
define( 'NONCE_SALT',       'z9X7c5V3b1N!m2Q@w4E#r6T$y8U%i0O^p1A&s3D*f5G(h7J)k9L-z1X' );

$table_prefix = 'wp_';
require_once ABSPATH . 'wp-settings.php';
