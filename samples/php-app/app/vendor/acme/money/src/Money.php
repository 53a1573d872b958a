<?php

namespace Acme\Money;

/** Formats amounts in minor units. */
final class Money
{
    public static function format(int $cents, string $code): string
    {
        $currency = new Currency($code);
        return sprintf("%d.%02d %s\n", intdiv($cents, 100), $cents % 100, $currency->symbol());
    }
}
