<?php

namespace Acme\Money;

/** A currency and its symbol. */
final class Currency
{
    private const SYMBOLS = ['EUR' => 'EUR', 'USD' => 'USD'];

    public function __construct(private string $code)
    {
    }

    public function symbol(): string
    {
        return self::SYMBOLS[$this->code] ?? $this->code;
    }
}
