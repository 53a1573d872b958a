<?php
namespace App;

use Acme\Slug\Slugger;

/** Maps a path to its page. The probes take / and /slug only. */
final class Router
{
    public function dispatch(string $path): string
    {
        switch ($path) {
            case '/':
                return page('home', 'hello, slim');
            case '/slug':
                return (new Slugger())->slug('Hello Slim World');
            case '/clock':
                $when = new \DateTime('2024-01-15 12:00:00', new \DateTimeZone('UTC'));
                $when->setTimezone(new \DateTimeZone('Europe/Paris'));
                return $when->format('Y-m-d H:i T');
            case '/price':
                return Prices::show(1234);
            case '/about':
                return require __DIR__ . '/../templates/about.php';
            case '/readme':
                // Debian's php-parsedown, found along the include path (/usr/share/php)
                require_once 'Parsedown/autoload.php';
                return (new \Parsedown())->text("# Read me\n\nserved by *slim*");
        }
        http_response_code(404);
        return "not found\n";
    }
}
