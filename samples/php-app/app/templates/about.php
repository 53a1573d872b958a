<?php
return "about: a sample for slim\n";
