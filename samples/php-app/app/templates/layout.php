<!doctype html>
<title><?= htmlspecialchars($title) ?></title>
<p><?= htmlspecialchars($body) ?></p>
