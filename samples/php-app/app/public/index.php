<?php
// The front controller: every request comes here (the built-in server's router script).
declare(strict_types=1);

require_once __DIR__ . '/../vendor/autoload.php';
require __DIR__ . '/../src/helpers.php';

use App\Router;

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
echo (new Router())->dispatch($path);
