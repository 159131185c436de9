"""Scriptgate's Python runner (serves the `python` and `python3` script types).

A long-lived process that runs one job at a time, each in a fresh global
namespace, so one call's globals never reach the next. The server gives a
runner to one script owner only (imported modules live on inside a process)
and replaces it when a job leaves threads or processes behind, runs out of
memory, or times out. Forking a fresh child per job was measured and not
chosen: on these machines it costs about 3.5 ms of CPU a call (page faults
after the fork), against 0.2 ms for a call in a warm process.

Protocol: JSON, one message per line. Jobs and API results arrive on fd 3;
everything we report leaves on fd 4. The script's own stdout and stderr
(fd 1 and 2) are left alone: the server turns them into log lines. After each
job we write an end marker on both.
"""

import ast
import builtins
import json
import os
import resource
import signal
import sys
import threading
import traceback
import warnings

IN_FD, OUT_FD = 3, 4
SCRIPT_FILE = '<script>'
EXIT_CHANNEL_CLOSED = 75
# Descriptors a job may leave open (cached connections, say) before the worker is replaced.
FD_BUDGET = 64
# Error messages longer than this are cut: an exception's text is not a way to move data.
MAX_MESSAGE_CHARS = 16384
# A result may carry the response twice and the event back: 2 x the response limit + the job's size + this.
RESULT_SLACK_BYTES = 64 * 1024


# ---- protocol -----------------------------------------------------------------

class Channel:
    def __init__(self):
        self._chunks = []
        self.last_size = 0  # bytes of the last message read

    def read(self):
        """Next message as a Munch tree, or None when the server has gone."""
        while True:
            if self._chunks:
                last = self._chunks[-1]
                newline = last.find(b'\n')
                if newline >= 0:
                    line = b''.join(self._chunks[:-1]) + last[:newline]
                    rest = last[newline + 1:]
                    self._chunks = [rest] if rest else []
                    if line.strip():
                        self.last_size = len(line)
                        return json.loads(line, object_hook=Munch)
                    continue
            chunk = os.read(IN_FD, 1 << 16)
            if not chunk:
                return None
            self._chunks.append(chunk)

    @staticmethod
    def send(message):
        write_all(OUT_FD, (to_json(message) + '\n').encode())


def to_json(value):
    """JSON text; NaN and infinities become null, as JavaScript's JSON writes them (every runner does)."""
    try:
        return json.dumps(value, separators=(',', ':'), allow_nan=False)
    except ValueError:
        # Only a value that has them pays for the walk.
        return json.dumps(without_non_finite(value), separators=(',', ':'), allow_nan=False)


def without_non_finite(value, depth=0):
    if isinstance(value, float) and (value != value or value in (float('inf'), float('-inf'))):
        return None
    if depth > 1000:
        return value  # json.dumps then says it is nested too deeply
    if isinstance(value, dict):
        return {k: without_non_finite(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_non_finite(v, depth + 1) for v in value]
    return value


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# ---- DreamFactory-style objects -------------------------------------------------

class Munch(dict):
    """A dict whose keys are also attributes: event.request.method == event['request']['method']."""
    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def toDict(self):
        return unmunchify(self)


class ReadOnlyMunch(Munch):
    """platform.secrets: readable as attributes or keys; a script cannot change it (TypeError)."""
    __slots__ = ()

    def _refuse(self, *args, **kwargs):
        raise TypeError('platform.secrets is read-only')

    __setitem__ = __delitem__ = __setattr__ = __delattr__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


def munchify(value):
    if isinstance(value, dict):
        return Munch((k, munchify(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(munchify(v) for v in value)
    return value


def unmunchify(value):
    if isinstance(value, dict):
        return {k: unmunchify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(unmunchify(v) for v in value)
    return value


class ApiResponse(Munch):
    """What platform.api returns: status_code/content/content_type/headers, plus
    the parts of DreamFactory's HTTP response scripts use (read(), status, getcode())."""
    __slots__ = ()

    def read(self, amt=None):
        """The body as the REST door sends it: a string as it is, anything else as JSON text."""
        content = self.get('content')
        if content is None:
            return b''
        if isinstance(content, str):
            return content.encode()
        return to_json(content).encode()

    def json(self):
        return self.get('content')

    def getcode(self):
        return self.get('status_code')

    @property
    def status(self):
        return self.get('status_code')

    def getheader(self, name, default=None):
        wanted = name.lower()
        for key, value in (self.get('headers') or {}).items():
            if key.lower() == wanted:
                return value
        return default

    def getheaders(self):
        return list((self.get('headers') or {}).items())


class Api:
    """platform.api: get/post/put/patch/delete(path, payload=None, options=None), and call(verb, path, ...).
    The arguments go to the host as given: it decides which is the payload and which the options
    (DreamFactory's get(path, options) included), the same way for every language."""

    def __init__(self, channel, job_id):
        self._channel = channel
        self._job = job_id
        self._lock = threading.Lock()
        self._seq = 0

    def get(self, path, *args, **named):
        return self.call('GET', path, *args, **named)

    def post(self, path, *args, **named):
        return self.call('POST', path, *args, **named)

    def put(self, path, *args, **named):
        return self.call('PUT', path, *args, **named)

    def patch(self, path, *args, **named):
        return self.call('PATCH', path, *args, **named)

    def delete(self, path, *args, **named):
        return self.call('DELETE', path, *args, **named)

    def call(self, verb, path, *args, payload=None, options=None):
        args = list(args)
        if payload is not None or options is not None:
            # Named arguments (DreamFactory's payload=, options=) take their places.
            args = (args + [None, None])[:2]
            if payload is not None:
                args[0] = payload
            if options is not None:
                args[1] = options
        args = [a.decode('utf-8', 'replace') if isinstance(a, (bytes, bytearray)) else a for a in args]
        # A value JSON cannot carry raises here, in the script, before anything is sent.
        call = to_json({'method': str(verb).upper(), 'path': str(path), 'args': args})
        with self._lock:  # one call in flight per job: replies come back in order
            self._seq += 1
            call_id = self._seq
            write_all(OUT_FD, ('{"t":"api","job":%d,"id":%d,"call":%s}\n' % (self._job, call_id, call)).encode())
            while True:
                reply = self._channel.read()
                if reply is None:
                    os._exit(EXIT_CHANNEL_CLOSED)
                if reply.get('t') == 'api-result' and reply.get('job') == self._job and reply.get('id') == call_id:
                    return ApiResponse(reply['result'])


# ---- running one job (in the forked child) -----------------------------------------

def compile_script(source):
    """The script becomes the body of script(event, platform), keeping its own line numbers."""
    body = ast.parse(source, SCRIPT_FILE, 'exec').body
    module = ast.parse('def script(event, platform):\n    pass\n', SCRIPT_FILE, 'exec')
    module.body[0].body = body or [ast.Pass(lineno=1, col_offset=0)]
    ast.fix_missing_locations(module)
    return compile(module, SCRIPT_FILE, 'exec')


MAX_DIAGNOSTICS = 20
MAX_DIAGNOSTIC_CHARS = 1000


def check_script(channel, frame):
    """Compiles the script as a job would (compile_script) without running it: compile() runs no
    code. SyntaxWarnings (an invalid escape, `is` with a literal) come back as warnings."""
    diagnostics = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            compile_script(str(frame.get('script', '')))
        except SyntaxError as error:
            diagnostics.append(diagnostic('ERROR', 'SyntaxError: %s' % error.msg, error.lineno, error.offset))
        except (RecursionError, MemoryError) as error:
            diagnostics.append(diagnostic('ERROR', 'SyntaxError: the script is nested too deeply or too large to compile (%s)'
                                          % type(error).__name__, 1, 1))
        except Exception as error:  # e.g. ValueError for a NUL byte in the source
            diagnostics.append(diagnostic('ERROR', '%s: %s' % (type(error).__name__, error), 1, 1))
    for warning in caught:
        # Before 3.12 an invalid escape is a DeprecationWarning; either is the compiler's, about the script.
        if warning.filename == SCRIPT_FILE and issubclass(warning.category, (SyntaxWarning, DeprecationWarning)):
            diagnostics.append(diagnostic('WARNING', '%s: %s' % (warning.category.__name__, warning.message), warning.lineno, None))
    channel.send({'t': 'checked', 'id': frame.get('id'), 'diagnostics': diagnostics[:MAX_DIAGNOSTICS]})


def diagnostic(severity, message, line, column):
    return {'severity': severity, 'message': str(message)[:MAX_DIAGNOSTIC_CHARS],
            'line': line if isinstance(line, int) and line > 0 else 1,
            'column': column if isinstance(column, int) and column > 0 else 1}


def describe_error(error):
    """(message, line, stack) pointing into the script where Python says where."""
    if isinstance(error, SyntaxError) and error.filename == SCRIPT_FILE:
        return 'SyntaxError: %s' % error.msg, error.lineno, None
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == SCRIPT_FILE]
    message = ''.join(traceback.format_exception_only(type(error), error)).strip()
    line = frames[-1].lineno if frames else None
    stack = ''.join(traceback.format_list(frames)).rstrip() if frames else None
    return message, line, stack


def first_unserialisable(value, where, seen=None):
    """Where in a value JSON fails, e.g. "return value['items'][2] (a set)"."""
    seen = set() if seen is None else seen
    if value is None or isinstance(value, (str, bool, int, float)):
        return None  # NaN and infinities are written as null
    if isinstance(value, (dict, list, tuple)):
        if id(value) in seen:
            return '%s (a circular reference)' % where
        seen.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(value, dict) and not isinstance(key, (str, int, float, bool, type(None))):
                return '%s (a key of type %s)' % (where, type(key).__name__)
            found = first_unserialisable(item, '%s[%r]' % (where, key), seen)
            if found:
                return found
        seen.discard(id(value))
        return None
    return '%s (a %s)' % (where, type(value).__name__)


def limit_memory(memory_mb):
    """Address space: what the idle runner maps now, plus the scripts' allowance."""
    if memory_mb <= 0:
        return
    with open('/proc/self/statm') as statm:
        mapped = int(statm.read().split()[0]) * resource.getpagesize()
    allowed = mapped + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (allowed, allowed))


def lowest_free_fd():
    """The lowest descriptor number free (what the next open gets): one dup and one close,
    against about 9 us to list /proc/self/fd. None when not even that works (the script
    closed fd 0, or the process is at its descriptor limit)."""
    try:
        fd = os.dup(0)
    except OSError:
        return None
    os.close(fd)
    return fd


def run_job(channel, job, runner_pid):
    """Runs one job; returns True when the process is no longer clean enough to reuse."""
    job_id = job['id']
    send = channel.send
    event = job['event']
    exit_status = 0
    dirty = False
    try:
        code = compile_script(job['script'])
        platform = Munch(config=job['platform'].get('config') or Munch(),
                         session=job['platform'].get('session') or Munch(),
                         secrets=ReadOnlyMunch(job['platform'].get('secrets') or ()),
                         api=Api(channel, job_id))
        namespace = {'__name__': '__main__', '__builtins__': builtins, 'json': json,
                     'munchify': munchify, 'unmunchify': unmunchify, 'bunchify': munchify, 'Munch': Munch}
        exec(code, namespace)
        exited = False
        try:
            returned = namespace['script'](event, platform)
        except SystemExit as stop:
            # exit() ends the script; a non-zero status makes it a failure (decided by the server).
            returned, exited = None, True
            exit_status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if stop.code is not None and not isinstance(stop.code, int):
                print(stop.code, file=sys.stderr)
        if os.getpid() != runner_pid:
            os._exit(0)  # a process the script forked must not speak for the job
        send_result(send, job_id, returned, event, exited, exit_status, job.get('limits') or {})
    except MemoryError:
        if os.getpid() != runner_pid:
            os._exit(1)
        dirty = True
        send({'t': 'error', 'job': job_id, 'kind': 'memory', 'message': 'MemoryError'})
    except BaseException as error:  # noqa: B902 - anything the script raised is its failure
        if os.getpid() != runner_pid:
            os._exit(1)
        try:
            message, line, stack = describe_error(error)
        except MemoryError:
            message, line, stack = 'MemoryError', None, None
        dirty = isinstance(error, MemoryError)
        send({'t': 'error', 'job': job_id, 'kind': 'memory' if dirty else 'error',
              'message': message[:MAX_MESSAGE_CHARS], 'line': line, 'stack': stack and stack[:MAX_MESSAGE_CHARS]})
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return dirty


def send_result(send, job_id, returned, event, exited, exit_status, limits):
    message = {'t': 'result', 'job': job_id, 'returned': returned, 'event': event}
    if exited:
        message.update(exited=True, exitCode=exit_status)
    try:
        data = (to_json(message) + '\n').encode()
    except (TypeError, ValueError, RecursionError) as error:
        where = first_unserialisable(returned, 'return value') or first_unserialisable(event, 'event') or 'result'
        send({'t': 'error', 'job': job_id, 'kind': 'error',
              'message': 'The script\'s %s cannot be converted to JSON: %s' % (where, error)})
        return
    max_response = limits.get('maxResponseBytes') or 0
    if max_response and len(data) > 2 * max_response + limits.get('jobBytes', 0) + RESULT_SLACK_BYTES:
        send({'t': 'error', 'job': job_id, 'kind': 'output',
              'message': 'The script\'s result is larger than the response limit of %d bytes.' % max_response})
        return
    write_all(OUT_FD, data)


# ---- the process -----------------------------------------------------------------

def die_with_parent():
    """If the server dies, so do we (Linux), instead of lingering."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def add_site_packages():
    """The runner starts with -S, which halves its start-up (a worker is
    started for each new script owner and after every timeout): site's .pth
    import hooks can load dozens of modules. Scripts still import everything
    installed: we add the site-packages directories and the path lines of
    their .pth files, skipping .pth code."""
    import site
    site.setquit()  # exit() and quit(), which -S leaves out
    dirs = list(site.getsitepackages())
    if site.check_enableusersite():
        dirs.append(site.getusersitepackages())
    for directory in dirs:
        if not os.path.isdir(directory) or directory in sys.path:
            continue
        sys.path.append(directory)
        try:
            names = sorted(n for n in os.listdir(directory) if n.endswith('.pth'))
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(directory, name), encoding='utf-8') as pth:
                    lines = pth.read().splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for line in lines:
                line = line.strip()
                if not line or line.startswith('#') or line.startswith(('import ', 'import\t')):
                    continue
                entry = os.path.join(directory, line)
                if os.path.exists(entry) and entry not in sys.path:
                    sys.path.append(entry)


def warm_up():
    """Run the paths a job takes once before saying ready, so the first call is not the slow one."""
    code = compile_script("x = {'a': [1, 2.5, 'b', None, True]}\nreturn x")
    namespace = {'__builtins__': builtins}
    exec(code, namespace)
    returned = namespace['script'](Munch(), Munch())
    json.loads(json.dumps({'t': 'result', 'returned': returned}), object_hook=Munch)
    try:
        raise ValueError('warm-up')
    except ValueError as error:
        describe_error(error)


def main():
    token = sys.argv[1] if len(sys.argv) > 1 else ''
    memory_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    sys.argv = ['script']
    marker = b'\0SG-END-' + token.encode() + b'\0\n'
    for fd in (IN_FD, OUT_FD):
        os.set_inheritable(fd, False)  # programs a script starts never see the protocol
    add_site_packages()
    die_with_parent()
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    limit_memory(memory_mb)
    home = os.getcwd()
    runner_pid = os.getpid()
    channel = Channel()
    warm_up()
    fd_limit = (lowest_free_fd() or 0) + FD_BUDGET
    channel.send({'t': 'ready', 'pid': runner_pid, 'version': sys.version.split()[0]})
    while True:
        job = channel.read()
        if job is None:
            return
        if job.get('t') == 'check':
            check_script(channel, job)
            continue
        if job.get('t') != 'job':
            continue  # e.g. an API result for a job that was stopped
        job.setdefault('limits', Munch())['jobBytes'] = channel.last_size
        dirty = run_job(channel, job, runner_pid)
        # Threads the script left running would reach the next job. (Processes it left, children or
        # daemons, the server sees from outside, in the sandbox's process tree, and retires the worker.)
        dirty = dirty or threading.active_count() > 1
        # Descriptors the script left open would pile up until the next job cannot open any: past the
        # budget, the lowest free number is past it too (a script that keeps a low hole open only delays
        # this until the descriptor limit, in its own worker).
        if not dirty:
            free = lowest_free_fd()
            dirty = free is None or free > fd_limit
        try:
            os.chdir(home)
        except OSError:
            dirty = True
        write_all(1, marker)
        write_all(2, marker)
        channel.send({'t': 'done', 'job': job['id'], 'dirty': dirty})


if __name__ == '__main__':
    main()
