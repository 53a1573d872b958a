<?php

namespace Composer;

/** Stand-in for Composer's runtime API; nothing here uses it. */
class InstalledVersions
{
}
