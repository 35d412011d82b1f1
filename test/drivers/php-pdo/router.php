<?php
// The webhook service of the driver matrix, on PDO pgsql with server-side prepares
// (ATTR_EMULATE_PREPARES off) and PDO's transaction API, served by `php -S`.
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

// PDO wants its own DSN: built from the postgres:// URL.
$url = parse_url(getenv('DATABASE_URL'));
$dsn = sprintf('pgsql:host=%s;port=%d;dbname=%s', $url['host'], $url['port'] ?? 5432, ltrim($url['path'], '/'));
$db = new PDO($dsn, $url['user'] ?? 'postgres', $url['pass'] ?? null, [
    PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
    PDO::ATTR_EMULATE_PREPARES => false,
]);

function query(PDO $db, string $sql, array $params): void
{
    $db->prepare($sql)->execute($params);
}

try {
    $db->beginTransaction();
    try {
        query($db, 'SELECT id, credits_balance FROM users WHERE email = ?', [$email]);
    } catch (PDOException $e) {
        error_log('select user: ' . $e->getMessage());
        if ($fixed) {
            // The transaction is aborted: start a fresh one and go on without the column.
            $db->rollBack();
            $db->beginTransaction();
            query($db, 'SELECT id FROM users WHERE email = ?', [$email]);
        }
    }
    try {
        query($db, 'INSERT INTO webhook_events (event_id, type) VALUES (?, ?)', [$event['id'], $event['type']]);
    } catch (PDOException $e) {
        error_log('insert event: ' . $e->getMessage());
        if ($fixed) {
            throw $e;
        }
    }
    try {
        $db->commit();
    } catch (PDOException $e) {
        error_log('commit: ' . $e->getMessage());
        if ($fixed) {
            throw $e;
        }
    }
    http_response_code(200);
} catch (PDOException $e) {
    error_log('webhook ' . $event['id'] . ': ' . $e->getMessage());
    if ($db->inTransaction()) {
        $db->rollBack();
    }
    http_response_code(500);
}
