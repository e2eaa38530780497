<?php
class JConfig {
	public $offline = false;
	public $dbtype = 'mysqli';
	public $host = 'db';
	public $user = 'joomla';
	public $password = 'Jm4!qZv8Lx2p';
	public $db = 'joomla';
	public $secret = 'Tq8ZmN2vLw0Rt5Yk';
}
