<?php
// Small helpers every page uses.
function page(string $title, string $body): string
{
    ob_start();
    include dirname(__FILE__) . '/../templates/layout.php';
    return ob_get_clean();
}
