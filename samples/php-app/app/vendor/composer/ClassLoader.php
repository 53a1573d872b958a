<?php

namespace Composer\Autoload;

/** A minimal PSR-4 and class map loader with Composer's interface (setPsr4, addClassMap, register). */
class ClassLoader
{
    private $prefixes = [];
    private $classMap = [];
    private $vendorDir;

    public function __construct($vendorDir = null)
    {
        $this->vendorDir = $vendorDir;
    }

    public function setPsr4($prefix, $paths)
    {
        $this->prefixes[$prefix] = (array) $paths;
    }

    public function addClassMap(array $classMap)
    {
        $this->classMap = array_merge($this->classMap, $classMap);
    }

    public function register($prepend = false)
    {
        spl_autoload_register([$this, 'loadClass'], true, $prepend);
    }

    public function loadClass($class)
    {
        $file = $this->findFile($class);
        if ($file !== null) {
            include $file;
            return true;
        }
        return null;
    }

    public function findFile($class)
    {
        if (isset($this->classMap[$class])) {
            return $this->classMap[$class];
        }
        foreach ($this->prefixes as $prefix => $dirs) {
            if (strpos($class, $prefix) === 0) {
                $relative = str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
                foreach ($dirs as $dir) {
                    if (is_file($dir . '/' . $relative)) {
                        return $dir . '/' . $relative;
                    }
                }
            }
        }
        return null;
    }
}
