<?php

namespace Acme\Unused;

/** A class nothing uses: the slim image leaves it out. */
class Thing
{
}
