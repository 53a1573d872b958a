<?php
namespace App;

use Acme\Money\Money;

/** Prices, formatted by the vendored money library (loaded only when /price is hit). */
final class Prices
{
    public static function show(int $cents): string
    {
        return Money::format($cents, 'EUR');
    }
}
