<?php

namespace Acme\Slug;

/** Turns a title into a URL slug. */
class Slugger
{
    public function slug(string $title): string
    {
        return acme_slug_lower(trim(preg_replace('/[^A-Za-z0-9]+/', '-', $title), '-'));
    }
}
