<?php

// autoload_real.php (a small hand-written stand-in for the file Composer generates)

class ComposerAutoloaderInitSlimSample
{
    private static $loader;

    public static function getLoader()
    {
        if (null !== self::$loader) {
            return self::$loader;
        }
        require __DIR__ . '/ClassLoader.php';
        self::$loader = $loader = new \Composer\Autoload\ClassLoader(\dirname(__DIR__));
        $map = require __DIR__ . '/autoload_psr4.php';
        foreach ($map as $namespace => $paths) {
            $loader->setPsr4($namespace, $paths);
        }
        $loader->addClassMap(require __DIR__ . '/autoload_classmap.php');
        $loader->register(true);
        foreach (require __DIR__ . '/autoload_files.php' as $file) {
            require $file;
        }
        return $loader;
    }
}
