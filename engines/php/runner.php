<?php
/*
 * Scriptgate's PHP runner.
 *
 * A long-lived process that runs one job at a time, the script being the body
 * of a fresh closure, so its variables never reach the next job. The server
 * gives a runner to one script owner only and replaces it when a job dies of a
 * fatal error, times out or leaves processes behind. A script that declares
 * named functions, classes, interfaces, traits or enums runs in a forked child
 * instead, as PHP cannot declare them twice in one process; so does one that
 * may call exit() (or eval), which would otherwise end this process.
 * Forking every job was measured and not chosen: about 3 ms of CPU a call on
 * these machines, against well under 0.1 ms in a warm process.
 *
 * Protocol: JSON, one message per line. Jobs and API results arrive on fd 3;
 * everything we report leaves on fd 4. The script's own output (echo,
 * var_dump, warnings on stderr) stays on fd 1 and 2, which the server turns
 * into log lines. After each job we write an end marker on both.
 */

const SG_EXIT_CHANNEL_CLOSED = 75;
// Descriptors a job may leave open (cached connections, say) before the worker is replaced.
const SG_FD_BUDGET = 64;
// Error messages longer than this are cut: an exception's text is not a way to move data.
const SG_MAX_MESSAGE_BYTES = 16384;
// A result may carry the response twice and the event back: 2 x the response limit + the job's size + this.
const SG_RESULT_SLACK_BYTES = 65536;
const SG_JSON_OUT = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION
    | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR;

$sgIn = fopen('php://fd/3', 'rb');
$sgOut = fopen('php://fd/4', 'wb');

function sg_send(array $message): void
{
    global $sgOut;
    sg_write_all($sgOut, sg_json($message) . "\n");
}

/** JSON text; NaN and infinities become null, as JavaScript's JSON writes them (every runner does). */
function sg_json($value): string
{
    try {
        return json_encode($value, SG_JSON_OUT);
    } catch (JsonException $error) {
        if ($error->getCode() !== JSON_ERROR_INF_OR_NAN) {
            throw $error;
        }
        // Only a value that has them pays for the walk.
        return json_encode(sg_without_non_finite($value), SG_JSON_OUT);
    }
}

function sg_without_non_finite($value, int $depth = 0)
{
    if (is_float($value) && !is_finite($value)) {
        return null;
    }
    if ($depth > 512) {
        return $value; // json_encode then says it is nested too deeply
    }
    if (is_array($value)) {
        foreach ($value as $key => $item) {
            $value[$key] = sg_without_non_finite($item, $depth + 1);
        }
        return $value;
    }
    if ($value instanceof stdClass) {
        $copy = new stdClass();
        foreach (get_object_vars($value) as $key => $item) {
            $copy->$key = sg_without_non_finite($item, $depth + 1);
        }
        return $copy;
    }
    return $value;
}

function sg_write_all($stream, string $data): void
{
    while ($data !== '') {
        $written = fwrite($stream, $data);
        if ($written === false || $written === 0) {
            exit(SG_EXIT_CHANNEL_CLOSED);
        }
        $data = (string) substr($data, $written);
    }
}

/** Next message, or null when the server has gone. */
function sg_read(): ?array
{
    global $sgIn;
    while (($line = fgets($sgIn)) !== false) {
        if (trim($line) === '') {
            continue;
        }
        $message = json_decode($line, true, 100000);
        if (is_array($message)) {
            $message['size'] = strlen($line);
            return $message;
        }
    }
    return null;
}

/**
 * $platform['api']: both DreamFactory styles work,
 * $platform['api']->get('svc/x') and $get = $platform['api']->get; $get('svc/x').
 */
final class ScriptgateApi
{
    public $get;
    public $post;
    public $put;
    public $patch;
    public $delete;

    public function __construct(int $jobId)
    {
        foreach (['get', 'post', 'put', 'patch', 'delete'] as $verb) {
            // The arguments after the path go to the host as given: it decides which is the payload
            // and which the options, the same way for every language (engines/PROTOCOL.md).
            $this->$verb = static function ($path, ...$args) use ($jobId, $verb) {
                return sg_api_call($jobId, strtoupper($verb), $path, $args);
            };
        }
    }

    public function __call($name, $arguments)
    {
        $verb = strtolower($name);
        if (!in_array($verb, ['get', 'post', 'put', 'patch', 'delete'], true)) {
            throw new BadMethodCallException("platform api has no method $name");
        }
        return ($this->$verb)(...$arguments);
    }
}

/** Returns ['status_code' => ..., 'content' => ..., 'content_type' => ..., 'headers' => ...]. */
function sg_api_call(int $jobId, string $verb, $path, array $args): array
{
    static $sequence = 0;
    // A value JSON cannot carry throws here, in the script, before anything is sent.
    $call = sg_json(['method' => $verb, 'path' => (string) $path, 'args' => array_values($args)]);
    $id = ++$sequence;
    sg_write_all($GLOBALS['sgOut'], "{\"t\":\"api\",\"job\":$jobId,\"id\":$id,\"call\":$call}\n");
    while (($message = sg_read()) !== null) {
        if (($message['t'] ?? '') === 'api-result' && ($message['job'] ?? 0) === $jobId && ($message['id'] ?? 0) === $id) {
            return $message['result'];
        }
    }
    exit(SG_EXIT_CHANNEL_CLOSED);
}

/** The script is the body of a function; a leading <?php and trailing ?> are ignored (line numbers kept). */
function sg_strip_tags(string $script): string
{
    if (preg_match('/^\s*<\?php/i', $script, $match)) {
        $script = substr($script, strlen($match[0]));
        $script = str_repeat("\n", substr_count($match[0], "\n")) . $script;
    }
    $trimmed = rtrim($script);
    if (substr($trimmed, -2) === '?>') {
        $script = substr($trimmed, 0, -2);
    }
    return $script;
}

/** The line in the script where a Throwable happened, if PHP says. */
function sg_script_line(Throwable $error): ?int
{
    if (str_contains($error->getFile(), "eval()'d code")) {
        return $error->getLine();
    }
    foreach ($error->getTrace() as $frame) {
        if (isset($frame['file'], $frame['line']) && str_contains($frame['file'], "eval()'d code")) {
            return $frame['line'];
        }
    }
    return null;
}

/** Empty JSON objects come back from PHP as []; keep the event's object fields objects. */
function sg_objects(array $event): array
{
    foreach ([['request', 'parameters'], ['request', 'headers'], ['response', 'headers']] as [$a, $b]) {
        if (isset($event[$a]) && is_array($event[$a]) && array_key_exists($b, $event[$a]) && $event[$a][$b] === []) {
            $event[$a][$b] = new stdClass();
        }
    }
    return $event;
}

/** Where in a value JSON fails, e.g. "return value['items'][2] (a resource)". */
function sg_first_unserialisable($value, string $where, int $depth = 0): ?string
{
    if (is_resource($value) || gettype($value) === 'resource (closed)') {
        return "$where (a resource)";
    }
    if ($depth > 200) {
        return "$where (nested too deeply, or a circular reference)";
    }
    if (is_array($value) || is_object($value)) {
        foreach ((array) $value as $key => $item) {
            $found = sg_first_unserialisable($item, $where . '[' . var_export($key, true) . ']', $depth + 1);
            if ($found !== null) {
                return $found;
            }
        }
    }
    return null;
}

final class SgJobState
{
    public int $id;
    public bool $finished = false;
    public $event;
    public array $limits = [];
    public int $jobBytes = 0;
}

function sg_send_result(SgJobState $state, $returned, bool $exited): void
{
    global $sgOut;
    $message = ['t' => 'result', 'job' => $state->id, 'returned' => $returned, 'event' => sg_objects($state->event)];
    if ($exited) {
        $message['exited'] = true;
    }
    try {
        $data = sg_json($message) . "\n";
    } catch (JsonException $error) {
        $where = sg_first_unserialisable($returned, 'return value')
            ?? sg_first_unserialisable($state->event, 'event') ?? 'result';
        sg_send(['t' => 'error', 'job' => $state->id, 'kind' => 'error',
            'message' => "The script's $where cannot be converted to JSON: " . $error->getMessage()]);
        return;
    }
    $maxResponse = (int) ($state->limits['maxResponseBytes'] ?? 0);
    if ($maxResponse > 0 && strlen($data) > 2 * $maxResponse + $state->jobBytes + SG_RESULT_SLACK_BYTES) {
        sg_send(['t' => 'error', 'job' => $state->id, 'kind' => 'output',
            'message' => "The script's result is larger than the response limit of $maxResponse bytes."]);
        return;
    }
    sg_write_all($sgOut, $data);
}

/**
 * Fatal errors (memory, ...) and exit() end up here; the process then ends
 * and the server takes the exit status from it.
 */
function sg_on_shutdown(): void
{
    global $sgRunnerPid, $sgCurrent;
    $state = $sgCurrent;
    if ($state === null || $state->finished || getmypid() !== $sgRunnerPid) {
        return;
    }
    $state->finished = true;
    ini_set('memory_limit', '-1');
    $error = error_get_last();
    $fatal = E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR | E_RECOVERABLE_ERROR;
    if ($error !== null && ($error['type'] & $fatal)) {
        $memory = str_starts_with($error['message'], 'Allowed memory size');
        $line = str_contains($error['file'], "eval()'d code") ? $error['line'] : null;
        sg_send(['t' => 'error', 'job' => $state->id, 'kind' => $memory ? 'memory' : 'error',
            'message' => 'PHP Fatal error: ' . $error['message'], 'line' => $line]);
        return;
    }
    // exit() in the script: it ends; a non-zero exit status makes it a failure.
    sg_send_result($state, null, true);
}

function sg_error_label(int $type): string
{
    return match ($type) {
        E_WARNING, E_USER_WARNING, E_CORE_WARNING, E_COMPILE_WARNING => 'Warning',
        E_NOTICE, E_USER_NOTICE => 'Notice',
        E_DEPRECATED, E_USER_DEPRECATED => 'Deprecated',
        default => 'Error',
    };
}

/**
 * Whether the script runs in a forked child: it declares something PHP cannot declare twice in
 * one process, or it may call exit() (or eval code that may), which would end the warm runner.
 */
function sg_needs_fork(string $script): bool
{
    static $cache = [];
    $key = md5($script);
    if (isset($cache[$key])) {
        return $cache[$key];
    }
    if (count($cache) > 64) {
        $cache = [];
    }
    try {
        $tokens = token_get_all('<?php ' . $script);
    } catch (Throwable $error) {
        return $cache[$key] = false; // eval reports the syntax error
    }
    $significant = array_values(array_filter($tokens, static fn ($token) => !is_array($token)
        || !in_array($token[0], [T_WHITESPACE, T_COMMENT, T_DOC_COMMENT, T_OPEN_TAG], true)));
    $kinds = [T_CLASS, T_INTERFACE, T_TRAIT];
    if (defined('T_ENUM')) {
        $kinds[] = T_ENUM;
    }
    foreach ($significant as $i => $token) {
        if (!is_array($token)) {
            continue;
        }
        if ($token[0] === T_EXIT || $token[0] === T_EVAL) {
            return $cache[$key] = true; // exit, die, eval
        }
        $previous = $significant[$i - 1] ?? null;
        $next = $significant[$i + 1] ?? null;
        $nextNext = $significant[$i + 2] ?? null;
        if ($token[0] === T_FUNCTION) {
            $name = ($next === '&') ? $nextNext : $next;
            if (is_array($name) && $name[0] === T_STRING) {
                return $cache[$key] = true; // named function (closures have no name)
            }
        } elseif (in_array($token[0], $kinds, true)) {
            $afterNewOrColons = is_array($previous) && in_array($previous[0], [T_NEW, T_DOUBLE_COLON], true);
            if (!$afterNewOrColons && is_array($next) && $next[0] === T_STRING) {
                return $cache[$key] = true;
            }
        }
    }
    return $cache[$key] = false;
}

/**
 * Whether descriptor $fd is open, in one call and no allocation (about 1 us, against 17 us to list
 * /proc/self/fd): ttyname() fails with EBADF only on a closed descriptor.
 */
function sg_fd_open(int $fd): bool
{
    return posix_ttyname($fd) !== false || posix_get_last_error() !== 9; // 9: EBADF
}

/** The lowest descriptor number free (what the next open gets). */
function sg_lowest_free_fd(): int
{
    for ($fd = 0; sg_fd_open($fd); $fd++) {
    }
    return $fd;
}

function sg_run_job(array $job): void
{
    global $sgRunnerPid, $sgCurrent;
    $state = new SgJobState();
    $sgCurrent = $state;
    $state->id = (int) $job['id'];
    $limits = $job['limits'] ?? [];
    $state->limits = $limits;
    $state->jobBytes = (int) ($job['size'] ?? 0);
    $event = $job['event'];
    $state->event = &$event;
    $platform = [
        'config' => $job['platform']['config'] ?? [],
        'session' => $job['platform']['session'] ?? [],
        // An array, copied into the script by value: a change the script makes stays in that run.
        'secrets' => $job['platform']['secrets'] ?? [],
        'api' => new ScriptgateApi($state->id),
    ];
    $script = sg_strip_tags((string) $job['script']);
    unset($job);

    set_error_handler(static function (int $type, string $message, string $file, int $line): bool {
        if (!(error_reporting() & $type)) {
            return false; // silenced with @
        }
        $where = str_contains($file, "eval()'d code") ? "on line $line" : "in $file:$line";
        fwrite(STDERR, sg_error_label($type) . ": $message $where\n");
        return true;
    });
    $memoryLimitMb = (int) ($limits['memoryLimitMb'] ?? 0);
    ini_set('memory_limit', $memoryLimitMb > 0 ? (string) (memory_get_usage(true) + $memoryLimitMb * 1048576) : '-1');

    try {
        // The script's first line shares line 1 with the function header, so line numbers match.
        $function = eval('return static function (array &$event, array $platform) { ' . $script . "\n};");
        $returned = $function($event, $platform);
        if (getmypid() !== $sgRunnerPid) {
            posix_kill(getmypid(), SIGKILL); // a process the script forked must not speak for the job
        }
        $state->finished = true;
        ini_set('memory_limit', '-1');
        sg_send_result($state, $returned, false);
    } catch (Throwable $error) {
        if (getmypid() !== $sgRunnerPid) {
            posix_kill(getmypid(), SIGKILL);
        }
        $state->finished = true;
        ini_set('memory_limit', '-1');
        $message = ($error instanceof ParseError ? 'PHP Parse error: ' : get_class($error) . ': ') . $error->getMessage();
        $frames = array_filter(explode("\n", $error->getTraceAsString()), static fn ($frame) => str_contains($frame, "eval()'d code"));
        sg_send(['t' => 'error', 'job' => $state->id, 'kind' => 'error', 'message' => substr($message, 0, SG_MAX_MESSAGE_BYTES),
            'line' => sg_script_line($error), 'stack' => $frames ? substr(implode("\n", $frames), 0, SG_MAX_MESSAGE_BYTES) : null]);
    }
    restore_error_handler();
    $sgCurrent = null;
}

/** Runs a job in a forked child (see sg_needs_fork); returns the child's exit status. */
function sg_run_job_forked(array $job): int
{
    global $sgRunnerPid;
    $pid = pcntl_fork();
    if ($pid === 0) {
        $sgRunnerPid = getmypid();
        mt_srand(random_int(0, PHP_INT_MAX)); // the fork copied the parent's random state
        sg_run_job($job);
        posix_kill(getmypid(), SIGKILL); // skip PHP's shutdown (about 3 ms): the result is sent
    }
    if ($pid < 0) {
        sg_send(['t' => 'error', 'job' => $job['id'], 'kind' => 'error',
            'message' => 'could not fork: ' . pcntl_strerror(pcntl_get_last_error())]);
        return 1;
    }
    do {
        $waited = pcntl_waitpid($pid, $status);
    } while ($waited === -1 && pcntl_get_last_error() === PCNTL_EINTR);
    return pcntl_wifexited($status) ? pcntl_wexitstatus($status) : -pcntl_wtermsig($status);
}

const SG_MAX_DIAGNOSTICS = 20;
const SG_MAX_DIAGNOSTIC_BYTES = 1000;

function sg_diagnostic(string $severity, string $message, ?int $line): array
{
    // PHP's parser reports no column.
    return ['severity' => $severity, 'message' => substr($message, 0, SG_MAX_DIAGNOSTIC_BYTES), 'line' => max(1, (int) $line), 'column' => 1];
}

/**
 * `php -l` for a script as a job would run it (the same wrapper), without running any of it:
 * the parser first, in this process (token_get_all with TOKEN_PARSE builds no code at all);
 * then, for compile errors PHP reports only as fatal ("Cannot redeclare", "'break' not in the
 * 'loop' or 'switch' context"), a compile in a forked child, whose eval starts with `return;`
 * so nothing of it runs. A fatal error ends the child only.
 */
function sg_check(array $frame): void
{
    $script = sg_strip_tags((string) ($frame['script'] ?? ''));
    $wrapped = 'return static function (array &$event, array $platform) { ' . $script . "\n};";
    $diagnostics = [];
    try {
        token_get_all('<?php ' . $wrapped, TOKEN_PARSE);
        $diagnostics = sg_compile_in_child($wrapped);
    } catch (ParseError $error) {
        $diagnostics[] = sg_diagnostic('ERROR', 'PHP Parse error: ' . $error->getMessage(), $error->getLine());
    } catch (Throwable $error) {
        $diagnostics[] = sg_diagnostic('ERROR', get_class($error) . ': ' . $error->getMessage(), 1);
    }
    sg_send(['t' => 'checked', 'id' => $frame['id'] ?? 0, 'diagnostics' => array_slice($diagnostics, 0, SG_MAX_DIAGNOSTICS)]);
}

/** The compile's diagnostics, as the forked child wrote them to a socket pair. */
function sg_compile_in_child(string $wrapped): array
{
    $pair = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
    if ($pair === false) {
        return [sg_diagnostic('ERROR', 'The PHP check could not start (socket pair).', 1)];
    }
    $pid = pcntl_fork();
    if ($pid === 0) {
        fclose($pair[0]);
        sg_compile_child($pair[1], $wrapped);
    }
    fclose($pair[1]);
    if ($pid < 0) {
        fclose($pair[0]);
        return [sg_diagnostic('ERROR', 'The PHP check could not fork: ' . pcntl_strerror(pcntl_get_last_error()), 1)];
    }
    $answer = stream_get_contents($pair[0], 1 << 20);
    fclose($pair[0]);
    do {
        $waited = pcntl_waitpid($pid, $status);
    } while ($waited === -1 && pcntl_get_last_error() === PCNTL_EINTR);
    $diagnostics = $answer ? json_decode($answer, true) : null;
    if (!is_array($diagnostics)) {
        $how = pcntl_wifsignaled($status) ? 'signal ' . pcntl_wtermsig($status) : 'status ' . pcntl_wexitstatus($status);
        return [sg_diagnostic('ERROR', "PHP's compiler ended without an answer ($how).", 1)];
    }
    return $diagnostics;
}

/** In the forked child: compile, answer on $out, end without PHP's shutdown. */
function sg_compile_child($out, string $wrapped): never
{
    global $sgRunnerPid;
    $sgRunnerPid = getmypid(); // the runner's shutdown hook is not ours to run here
    $diagnostics = [];
    $answer = static function () use ($out, &$diagnostics): never {
        sg_write_all($out, json_encode(array_slice($diagnostics, 0, SG_MAX_DIAGNOSTICS), JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR));
        fclose($out);
        posix_kill(getmypid(), SIGKILL);
        exit(0);
    };
    ini_set('memory_limit', '128M');
    ini_set('display_errors', '0');
    set_error_handler(static function (int $type, string $message, string $file, int $line) use (&$diagnostics): bool {
        $diagnostics[] = sg_diagnostic('WARNING', sg_error_label($type) . ': ' . $message, $line);
        return true;
    });
    // Fatal compile errors cannot be caught: the shutdown hook reads them.
    register_shutdown_function(static function () use (&$diagnostics, $answer): void {
        $error = error_get_last();
        if ($error !== null && ($error['type'] & (E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR))) {
            $diagnostics[] = sg_diagnostic('ERROR', 'PHP Fatal error: ' . $error['message'], $error['line']);
        }
        $answer();
    });
    try {
        eval('return; ' . $wrapped);
    } catch (ParseError $error) {
        $diagnostics[] = sg_diagnostic('ERROR', 'PHP Parse error: ' . $error->getMessage(), $error->getLine());
    } catch (Throwable $error) {
        $diagnostics[] = sg_diagnostic('ERROR', 'PHP Fatal error: ' . $error->getMessage(), $error->getLine());
    }
    $answer();
}

/** If the server dies, so do we (Linux, PR_SET_PDEATHSIG), where FFI is there; in the sandbox bwrap's --die-with-parent does it too. */
function sg_die_with_parent(): void
{
    if (!extension_loaded('ffi')) {
        return;
    }
    try {
        FFI::cdef('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5);')
            ->prctl(1, 9, 0, 0, 0); // PR_SET_PDEATHSIG, SIGKILL
    } catch (Throwable $error) {
        // FFI disabled by ffi.enable: the pipes closing still ends an idle runner.
    }
}

// ---- the process -----------------------------------------------------------------

$sgToken = $argv[1] ?? '';
$sgMarker = "\0SG-END-{$sgToken}\0\n";
unset($argv[1]);
$_SERVER['argv'] = $argv;
$sgRunnerPid = getmypid();
$sgHome = getcwd();
$sgCurrent = null;
register_shutdown_function('sg_on_shutdown');
sg_die_with_parent();
posix_setrlimit(POSIX_RLIMIT_CORE, 0, 0);
// Run the paths a job takes once before saying ready, so the first call is not the slow one.
$sgWarm = eval('return static function (array &$event, array $platform) { return ["a" => [1, 2.5, "b", null, true]];' . "\n};");
$sgWarmEvent = ['request' => [], 'response' => []];
json_decode(json_encode(['returned' => $sgWarm($sgWarmEvent, []), 'event' => sg_objects($sgWarmEvent)], SG_JSON_OUT), true);
sg_needs_fork('return 1;');
unset($sgWarm, $sgWarmEvent);
$sgFdLimit = sg_lowest_free_fd() + SG_FD_BUDGET;
$sgBaselineGlobals = [...array_keys($GLOBALS), 'sgBaselineGlobals', 'sgJob', 'sgDone', 'sgName'];
sg_send(['t' => 'ready', 'pid' => $sgRunnerPid, 'version' => PHP_VERSION]);

while (($sgJob = sg_read()) !== null) {
    if (($sgJob['t'] ?? '') === 'check') {
        sg_check($sgJob);
        unset($sgJob);
        continue;
    }
    if (($sgJob['t'] ?? '') !== 'job') {
        continue; // e.g. an API result for a job that was stopped
    }
    $sgDone = ['t' => 'done', 'job' => $sgJob['id']];
    if (sg_needs_fork((string) $sgJob['script'])) {
        $sgDone['code'] = sg_run_job_forked($sgJob);
    } else {
        sg_run_job($sgJob);
    }
    unset($sgJob);
    // Globals the script created (through $GLOBALS or `global`) must not reach the next job.
    foreach (array_diff(array_keys($GLOBALS), $sgBaselineGlobals) as $sgName) {
        unset($GLOBALS[$sgName]);
    }
    // Processes the script left running (children or daemons) would reach the next job: the server
    // sees them from outside, in the sandbox's process tree, and replaces this runner.
    // Descriptors the script left open would pile up until the next job cannot open any: leaked past
    // the budget, they take the descriptor at the budget's end too.
    $sgDone['dirty'] = !@chdir($sgHome) || sg_fd_open($sgFdLimit);
    sg_write_all(STDOUT, $sgMarker);
    sg_write_all(STDERR, $sgMarker);
    sg_send($sgDone);
}
