<?php

// Loaded on every request by Composer's "files" autoload.
function acme_slug_lower(string $s): string
{
    return strtolower($s);
}
