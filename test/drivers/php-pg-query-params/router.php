<?php
// The webhook service of the driver matrix, on PHP's pgsql extension (pg_query_params), served by
// `php -S`. The extension has no transaction API: BEGIN/COMMIT/ROLLBACK are plain statements.
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path === '/healthz') {
    http_response_code(200);
    return;
}
if ($path !== '/webhooks/stripe' || $_SERVER['REQUEST_METHOD'] !== 'POST') {
    http_response_code(404);
    return;
}
$fixed = getenv('VARIANT') === 'fixed';
$event = json_decode(file_get_contents('php://input'), true);
$email = $event['data']['object']['customer_details']['email'] ?? null;

// libpq takes the postgres:// URL as it is.
$db = pg_connect(getenv('DATABASE_URL'));
if ($db === false) {
    error_log('connect failed');
    http_response_code(500);
    return;
}
// The extension warns as well as returning false; the service logs the error itself.
function run($db, string $sql, array $params = [], string $what = ''): bool
{
    $ok = $params ? @pg_query_params($db, $sql, $params) : @pg_query($db, $sql);
    if ($ok === false) {
        error_log("$what: " . pg_last_error($db));
    }
    return $ok !== false;
}

run($db, 'BEGIN', [], 'begin');
if (!run($db, 'SELECT id, credits_balance FROM users WHERE email = $1', [$email], 'select user') && $fixed) {
    // The transaction is aborted: start a fresh one and go on without the column.
    run($db, 'ROLLBACK', [], 'rollback');
    run($db, 'BEGIN', [], 'begin');
    run($db, 'SELECT id FROM users WHERE email = $1', [$email], 'select user id');
}
$ok = run($db, 'INSERT INTO webhook_events (event_id, type) VALUES ($1, $2)', [$event['id'], $event['type']], 'insert event');
if ($fixed && !($ok && run($db, 'COMMIT', [], 'commit'))) {
    run($db, 'ROLLBACK', [], 'rollback');
    http_response_code(500);
    return;
}
if (!$fixed) {
    run($db, 'COMMIT', [], 'commit');
}
http_response_code(200);
