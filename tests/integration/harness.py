"""The machinery every integration suite shares: outcomes and skips, bounded
waits, the processes a suite starts, raw HTTP on sockets, the `duct serve`
fixture, and the runner that prints one line per test and, last,
"RESULT passed=N failed=M skipped=K".

A suite imports what it needs from here and keeps only its tests and the
helpers no other suite uses. Only the standard library is used. Every socket
has a timeout, every wait is bounded, and only processes started here are
signalled (by their PID, and their own process group).

A test that cannot run here raises Skip; when the cause is something the
machine lacks and CI is expected to have (curl, socat, the IPv6 loopback, a
model this build or kernel cannot run) it raises Missing, a Skip that fails
the test when DUCT_CI=1.

Environment:
  DUCT_BIN        the duct binary (default ./duct)
  DUCT_TESTS      optional substring filter on test names
  DUCT_SANITIZED  1 when DUCT_BIN is the ASan/UBSan build (slower: waits get more slack)
  DUCT_CI         1 in CI: a Missing skip is a failure
  DUCT_ALLOW_ROOT set to 1 here unless given: the suites run duct serve as
                  root in CI containers, which it refuses without it
                  (test_systemd.py checks the refusal with it removed)
"""

import atexit
import calendar
import functools
import hashlib
import os
import re
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

DUCT_BIN = os.path.abspath(os.environ.get("DUCT_BIN", "./duct"))
os.environ.setdefault("DUCT_ALLOW_ROOT", "1")
NAME_FILTER = os.environ.get("DUCT_TESTS", "")
SANITIZED = os.environ.get("DUCT_SANITIZED") == "1"
CI = os.environ.get("DUCT_CI") == "1"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_SITE = os.path.join(REPO, "src", "serve", "demo", "site")

IO_TIMEOUT = 5.0          # every socket operation
START_TIMEOUT = 5.0       # until a server started here is ready
STOP_TIMEOUT = 10.0       # from SIGTERM until the server has exited


def models(default="epoll"):
    """The models of DUCT_MODELS (space-separated), or [default]."""
    return os.environ.get("DUCT_MODELS", default).split() or [default]


# ---------------------------------------------------------------------------
# Outcomes.


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    """The test does not apply here; the message says why."""


class Missing(Skip):
    """The test cannot run because the machine lacks something CI provides (a
    program, the IPv6 loopback, a model): skipped, but a failure when DUCT_CI=1."""


def need_program(name):
    """The path of the program name, or Missing."""
    path = shutil.which(name)
    if not path:
        raise Missing("%s is not installed" % name)
    return path


def check(cond, message):
    if not cond:
        raise TestFailure(message)


def check_eq(actual, expected, what):
    if actual != expected:
        raise TestFailure("%s: expected %s, got %s" % (what, short(expected), short(actual)))


def short(value, limit=160):
    """A repr for a failure message: long bytes by size and hash, other long values cut."""
    if isinstance(value, (bytes, bytearray)) and len(value) > limit:
        return "<%d bytes, sha256 %s..., from %r>" % (len(value), hashlib.sha256(value).hexdigest()[:12],
                                                      bytes(value[:40]))
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(text)


def wait_until(predicate, timeout, interval=0.02):
    """Polls predicate until it returns a true value or timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def wait_output(proc, stream, pattern, timeout=START_TIMEOUT):
    """Reads proc's stream (a pipe: its stdout or stderr) until pattern (a str
    regex) matches what was read; returns the match. Fails when timeout passes
    or the stream ends first. Bytes read past the match are consumed: a later
    reader of the pipe does not see them."""
    seen = b""
    deadline = time.monotonic() + timeout
    fd = stream.fileno()
    while True:
        m = re.search(pattern, seen.decode("utf-8", "replace"))
        if m:
            return m
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TestFailure("no %r from %s within %.0f s: %s" % (pattern, proc.args[0], timeout, short(seen)))
        chunk = os.read(fd, 4096)
        if not chunk:
            raise TestFailure("%s ended (status %s) before %r: %s" % (proc.args[0], proc.poll(), pattern, short(seen)))
        seen += chunk


# ---------------------------------------------------------------------------
# Processes started here.

LIVE = set()  # Popen objects of processes started here and not yet reaped
NOBODY = 65534
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:")


def spawn(args, stdin=subprocess.DEVNULL, **kw):
    """Popen in a session of its own (so that its workers can be killed with it), remembered in LIVE."""
    proc = subprocess.Popen(args, stdin=stdin, start_new_session=True, **kw)
    LIVE.add(proc)
    return proc


def _close_pipes(proc):
    for f in (proc.stdin, proc.stdout, proc.stderr):
        if f:
            try:
                f.close()
            except OSError:
                pass


def kill_hard(proc):
    """SIGKILL a process started here that has not been reaped yet (so its pid and
    group id cannot have been reused), then its own process group (its workers)."""
    if proc.poll() is None:
        for kill in (os.kill, os.killpg):
            try:
                kill(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
    LIVE.discard(proc)


def stop(proc, timeout=STOP_TIMEOUT):
    """SIGTERM, a bounded wait for the exit, SIGKILL if it did not come. Returns
    the exit status, or "hung" when it had to be killed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_hard(proc)
            return "hung"
    LIVE.discard(proc)
    return proc.returncode


def stop_all():
    """Kills every process started here that still runs and closes its pipes."""
    for proc in list(LIVE):
        kill_hard(proc)
        _close_pipes(proc)


atexit.register(stop_all)


def run(argv, timeout=5.0, input=None, as_nobody=False, **kw):
    """Runs argv with stdin from input (bytes) or nothing; returns (exit status,
    stdout, stderr), the outputs as bytes. A run that does not end within timeout
    is killed (its workers too) and reported as status None. With as_nobody and
    running as root, the command runs as nobody."""
    if as_nobody and os.geteuid() == 0:
        kw.update(user=NOBODY, group=NOBODY, extra_groups=[])
    with tempfile.TemporaryFile() as inp, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        inp.write(input or b"")
        inp.seek(0)
        proc = spawn(argv, stdin=inp, stdout=out, stderr=err, **kw)
        try:
            status = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            status = None
        kill_hard(proc)  # only if it still runs: then its workers go too
        out.seek(0)
        err.seek(0)
        return status, out.read(), err.read()


def run_text(argv, timeout=5.0, **kw):
    """run(), with the outputs decoded as UTF-8."""
    status, out, err = run(argv, timeout, **kw)
    return status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def describe_status(status):
    if isinstance(status, int) and status < 0:
        try:
            return "signal %s" % signal.Signals(-status).name
        except ValueError:
            return "signal %d" % -status
    return str(status)


def raise_fd_limit():
    """Soft RLIMIT_NOFILE up to the hard limit; processes started later inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


# ---------------------------------------------------------------------------
# What /proc tells about a process started here.


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name: [state, ppid, ...]."""
    with open("/proc/%d/stat" % pid) as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def children(pid):
    """[(child pid, state letter)] of every process whose parent is pid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = proc_stat(int(entry))
        except (OSError, ValueError):
            continue  # exited meanwhile
        if int(fields[1]) == pid:
            found.append((int(entry), fields[0]))
    return found


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def socket_inodes(pid):
    """The inodes of the sockets pid holds (none once it has exited)."""
    inodes = set()
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


TCP_LISTEN = "0A"  # the state column of /proc/net/tcp


def _tcp_listeners(inodes):
    """The addresses ("127.0.0.1:PORT", "[::1]:PORT") of the listening TCP sockets
    among inodes. /proc/net/tcp lists every socket of the machine, TIME_WAIT ones
    too: tens of thousands after a load test, a large file to read."""
    found = []
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            with open("/proc/net/" + name) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != TCP_LISTEN or fields[9] not in inodes:
                continue
            host, port = fields[1].split(":")
            # The address is printed as 32-bit words in host byte order.
            raw = b"".join(struct.pack("=I", int(host[i:i + 8], 16)) for i in range(0, len(host), 8))
            text = socket.inet_ntop(family, raw)
            found.append(("[%s]:%d" if family == socket.AF_INET6 else "%s:%d") % (text, int(port, 16)))
    return found


def _unix_listeners(inodes):
    """The addresses ("unix:/path", "unix:@name") of the listening Unix sockets among inodes."""
    found = []
    with open("/proc/net/unix") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split(None, 7)
            # Flags 0x10000 is __SO_ACCEPTCON: listen() was called.
            if len(fields) == 8 and int(fields[3], 16) & 0x10000 and fields[6] in inodes:
                found.append("unix:" + fields[7])
    return found


def listening(pid, tcp=True, unix=True):
    """The addresses pid listens on, in --listen syntax ("127.0.0.1:PORT",
    "[::1]:PORT", "unix:/path", "unix:@name"), sorted, each once. For a process
    that cannot say where it listens, or was told not to (--quiet)."""
    inodes = socket_inodes(pid)
    found = set()
    if tcp:
        found |= set(_tcp_listeners(inodes))
    if unix:
        found |= set(_unix_listeners(inodes))
    return sorted(found)


def wait_listening(proc, addr, timeout=START_TIMEOUT):
    """Waits until proc listens on addr (in --listen syntax): for a process that
    does not say when it is ready, where the socket file or name appears at
    bind(), before listen()."""
    unix = addr.startswith("unix:")
    ok = wait_until(lambda: proc.poll() is not None or addr in listening(proc.pid, tcp=not unix, unix=unix), timeout)
    check(ok and proc.poll() is None, "%s not listening on %s within %.0f s (status %s)"
          % (proc.args[0], addr, timeout, proc.poll()))


# ---------------------------------------------------------------------------
# Sockets.


def free_port(family=socket.AF_INET, host="127.0.0.1", kind=socket.SOCK_STREAM):
    """A port that was free a moment ago. Racy: another process may take it
    before the caller uses it. Servers started here listen on port 0 and say
    which port they got; this is only for a port where nothing should listen."""
    with socket.socket(family, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def need_ipv6_loopback():
    """Missing unless ::1 can be bound."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError as e:
        raise Missing("the IPv6 loopback ::1 is not available (%s)" % e)


def parse_listen(addr):
    """A --listen value -> (family, sockaddr) to connect to."""
    if addr.startswith("unix:"):
        path = addr[5:]
        return socket.AF_UNIX, "\0" + path[1:] if path.startswith("@") else path
    if addr.startswith("["):
        host, port = addr[1:].split("]:")
        return socket.AF_INET6, (host, int(port))
    host, port = addr.rsplit(":", 1)
    return socket.AF_INET, (host or "127.0.0.1", int(port))


def connect(addr, timeout=IO_TIMEOUT, rcvbuf=None):
    family, sockaddr = parse_listen(addr)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    try:
        s.connect(sockaddr)
    except BaseException:
        s.close()
        raise
    return s


def connect_awake(addr, timeout=IO_TIMEOUT, rcvbuf=None):
    """A connection that has spoken: an empty line, which a server ignores
    before a request (RFC 9112 §2.2). duct's listeners hand a connection to
    the server only once its first bytes arrive (TCP_DEFER_ACCEPT), so a
    silent one would reach it about a second later, and out of the order
    the clients connected in; this one is the server's at once."""
    s = connect(addr, timeout=timeout, rcvbuf=rcvbuf)
    s.sendall(b"\r\n")
    return s


def accepts_connections(addr):
    try:
        connect(addr, timeout=1.0).close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# HTTP on raw sockets.


def http_request(method, target, headers=(), version="HTTP/1.1", body=b"", host="127.0.0.1"):
    """Bytes of one request. Strings are latin-1 so that "\\xe9" is the byte 0xE9."""
    lines = ["%s %s %s" % (method, target, version)]
    if host is not None:
        lines.append("Host: " + host)
    lines += ["%s: %s" % (name, value) for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Response:
    def __init__(self, version, status, reason, header_list, body, head):
        self.version, self.status, self.reason = version, status, reason
        self.header_list = header_list          # [(lower-case name, value)] as sent
        self.headers = {}                       # lower-case name -> last value
        for name, value in header_list:
            self.headers[name] = value
        self.body = body                        # bytes, or None when streamed to a sink
        self.head = head

    def header(self, name):
        return self.headers.get(name.lower())

    def all(self, name):
        return [v for n, v in self.header_list if n == name.lower()]

    def __repr__(self):
        return "<%d %s %s body=%s>" % (self.status, self.reason, self.headers, short(self.body, 80))


class PeerClosed(Exception):
    pass


class HttpConn:
    """A socket plus a receive buffer: reads responses one after another, so it
    also parses pipelined responses. Framing: HEAD, 1xx, 204 and 304 carry no
    body; otherwise Content-Length, chunked, or until the server closes."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    @classmethod
    def open(cls, addr, **kw):
        return cls(connect(addr, **kw))

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _recv_more(self):
        data = self.sock.recv(1 << 18)
        if not data:
            raise PeerClosed("connection closed by the server")
        self.buf += data

    def _read_line_block(self, terminator, limit):
        while True:
            end = self.buf.find(terminator)
            if end >= 0:
                end += len(terminator)
                block = bytes(self.buf[:end])
                del self.buf[:end]
                return block
            if len(self.buf) > limit:
                raise TestFailure("no %r within %d bytes: %s" % (terminator, limit, short(bytes(self.buf[:200]))))
            self._recv_more()

    def read_exact(self, n, sink=None):
        """n bytes, returned, or handed to sink piecewise (for big bodies)."""
        if sink is None:
            while len(self.buf) < n:
                self._recv_more()
            data = bytes(self.buf[:n])
            del self.buf[:n]
            return data
        remaining = n
        while remaining:
            if not self.buf:
                self._recv_more()
            take = min(remaining, len(self.buf))
            sink(bytes(self.buf[:take]))
            del self.buf[:take]
            remaining -= take
        return None

    def read_to_eof(self):
        try:
            while True:
                self._recv_more()
        except (PeerClosed, ConnectionResetError):
            pass
        except socket.timeout:
            raise TestFailure("response without Content-Length on a connection the server keeps open")
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def read_head(self):
        """The bytes of the next response head, through its blank line."""
        return self._read_line_block(b"\r\n\r\n", 65536)

    def read_response(self, method="GET", sink=None):
        head = self.read_head()
        lines = head[:-4].decode("latin-1").split("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        check(m, "bad status line %s" % short(lines[0]))
        version, status, reason = m.group(1), int(m.group(2)), m.group(3) or ""
        header_list = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            check(sep and name and name == name.strip(), "bad response header line %s" % short(line))
            header_list.append((name.lower(), value.strip(" \t")))
        resp = Response(version, status, reason, header_list, b"", head)
        if method == "HEAD" or status < 200 or status in (204, 304):
            return resp
        lengths = resp.all("content-length")
        if "chunked" in (resp.header("transfer-encoding") or "").lower():
            resp.body = self._read_chunked(sink)
        elif lengths:
            check(len(set(lengths)) == 1 and lengths[0].isdigit(), "bad Content-Length %s" % lengths)
            resp.body = self.read_exact(int(lengths[0]), sink)
        else:
            resp.body = self.read_to_eof()
            if sink:
                sink(resp.body)
                resp.body = None
        return resp

    def _read_chunked(self, sink):
        parts = []
        while True:
            size = int(self._read_line_block(b"\r\n", 1024).split(b";")[0], 16)
            if size == 0:
                self._read_line_block(b"\r\n\r\n" if self.buf[:2] != b"\r\n" else b"\r\n", 65536)
                break
            parts.append(self.read_exact(size, sink))
            self.read_exact(2)
        return None if sink else b"".join(parts)

    def closed_by_peer(self, timeout=3.0):
        """True if the server closes (EOF or reset) within timeout with no more bytes."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(IO_TIMEOUT)


def exchange(addr, raw, methods=("GET",)):
    """Sends raw bytes on a new connection and reads one response per method."""
    with HttpConn.open(addr) as conn:
        conn.send(raw)
        return [conn.read_response(m) for m in methods]


# ---------------------------------------------------------------------------
# Checks of HTTP responses.

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
IMF_FIXDATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (%s) \d{4} \d\d:\d\d:\d\d GMT$" % "|".join(MONTHS))


def imf_fixdate(t):
    g = time.gmtime(int(t))
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        WEEKDAYS[g.tm_wday], g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min, g.tm_sec)


def parse_imf_fixdate(text):
    m = re.match(r"^\w{3}, (\d\d) (\w{3}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$", text)
    day, mon, year, hh, mm, ss = m.groups()
    return calendar.timegm((int(year), MONTHS.index(mon) + 1, int(day), int(hh), int(mm), int(ss)))


def norm_media(value):
    return (value or "").replace(" ", "").lower()


def check_content_type(resp, expected):
    """expected "text/css" accepts "text/css; charset=utf-8"; with parameters it must match."""
    got = norm_media(resp.header("content-type"))
    want = norm_media(expected)
    ok = got == want if ";" in want else (got == want or got.startswith(want + ";"))
    check(ok, "Content-Type: expected %r, got %r" % (expected, resp.header("content-type")))


def check_date_header(resp):
    date = resp.header("date")
    check(date and IMF_FIXDATE.match(date), "Date not an IMF-fixdate: %r" % date)
    check(abs(parse_imf_fixdate(date) - time.time()) < 120, "Date far from now: %r" % date)


def check_error_page(resp, status, method="GET"):
    """An error status with Content-Length and an HTML body (no body for HEAD)."""
    check_eq(resp.status, status, "status")
    length = resp.header("content-length")
    check(length is not None and length.isdigit(), "error response without a valid Content-Length: %r" % length)
    if method != "HEAD":
        check_eq(int(length), len(resp.body), "Content-Length vs body")
        check(len(resp.body) > 0, "error response with an empty body")
        check_content_type(resp, "text/html")


# ---------------------------------------------------------------------------
# The `duct serve` fixture.

# The standard document root, made for every Server not given another one.
INDEX = b"<!DOCTYPE html>\n<title>duct test root</title>\n<p>root index</p>\n"
SUB_INDEX = b"<!DOCTYPE html>\n<title>sub</title>\n<p>the index of sub/</p>\n"
BLOB = bytes(range(256)) * 4  # 1 KiB holding CR, LF and NUL bytes
STYLE = b"body { color: #123456; }\n"
SPACED = b"a file whose name holds a space\n"
SECRET = b"SECRET-OUTSIDE: this file lives outside the document root\n"

ROOT_FILES = {
    "index.html": INDEX,
    "blob.xyzzy": BLOB,
    "style.css": STYLE,
    "a b.txt": SPACED,
    "sub/index.html": SUB_INDEX,
}


def make_root(workdir):
    """The standard root in workdir/root, with an empty directory, a FIFO, a
    symbolic link inside and one pointing at workdir/outside/secret.txt."""
    root = os.path.join(workdir, "root")
    for rel, data in ROOT_FILES.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    os.mkdir(os.path.join(root, "empty"))
    os.mkfifo(os.path.join(root, "fifo"))
    os.symlink("blob.xyzzy", os.path.join(root, "inside-link"))
    outside = os.path.join(workdir, "outside")
    os.mkdir(outside)
    secret = os.path.join(outside, "secret.txt")
    with open(secret, "wb") as f:
        f.write(SECRET)
    os.symlink(secret, os.path.join(root, "outside-link"))
    return root


def announced(text, what="listening on"):
    """The addresses of duct's start-up lines ("duct serve: listening on
    http://127.0.0.1:8080/ (model ...)", "duct cat: listening on
    tcp://127.0.0.1:9000") in text, in --listen syntax: "127.0.0.1:8080"."""
    return [re.sub(r"^[a-z]+://", "", m.group(1)).rstrip("/") for m in re.finditer(what + r" (\S+)", text)]


_stop_timeouts = [0]


class Server:
    """A document root (the standard one unless root is given) and, after start,
    one duct server process whose stdout and stderr go to files in workdir."""

    def __init__(self, model, workdir, root=None):
        self.model = model
        self.workdir = workdir
        self.root = root or make_root(workdir)
        self.log_path = os.path.join(workdir, "access.log")
        self.stdout_path = os.path.join(workdir, "stdout")
        self.stderr_path = os.path.join(workdir, "stderr")
        self.proc = None
        self.port = None
        self.listen = []
        self.args = []
        self.own_sockets = set()
        self.stopped = False      # stop() was called by the fixture or the test
        self.exit_status = None
        self.cleanup = []         # callables run after the test

    def path(self, rel):
        return os.path.join(self.root, rel)

    def start(self, *extra, listen=None, root=True, access_log=None, workers=1, preexec_fn=None):
        """Starts the server and waits until it listens. listen: the --listen
        values (default 127.0.0.1:0, any free port); afterwards self.listen holds
        the bound addresses and self.port the first TCP port. access_log None: a
        file in workdir; False: no access log."""
        self.listen = list(listen) if listen else ["127.0.0.1:0"]
        args = [DUCT_BIN, "serve"] + ([self.root] if root else [])
        for addr in self.listen:
            args += ["--listen", addr]
        args += ["--workers", str(workers), "--model", self.model]
        if access_log is not False:
            args += ["--access-log", access_log or self.log_path]
        args += list(extra)
        self.args = args
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = spawn(args, stdout=out, stderr=err, preexec_fn=preexec_fn)
        self._wait_ready(quiet="--quiet" in extra or "-q" in extra)
        return self

    def _wait_ready(self, quiet):
        """Learns the bound addresses: from the start-up lines on stderr, one per
        listener in --listen order, printed once every listener listens; with
        --quiet, which prints none, from the server's listening sockets (then in
        sorted order)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            addrs = listening(self.proc.pid) if quiet else announced(self.stderr())
            if len(addrs) >= len(self.listen):
                break
            if self.proc.poll() is not None:
                LIVE.discard(self.proc)
                raise TestFailure("server exited at start with status %s; stderr: %s"
                                  % (self.proc.returncode, short(self.stderr())))
            if time.monotonic() >= deadline:
                raise TestFailure("server not listening on %s after %.0f s; stderr %s; args %s"
                                  % (self.listen, START_TIMEOUT, short(self.stderr()), self.args))
            time.sleep(0.01)  # between readings of stderr or /proc
        self.listen = addrs[:len(self.listen)]
        tcp = [a for a in self.listen if not a.startswith("unix:")]
        self.port = int(tcp[0].rsplit(":", 1)[1]) if tcp else None
        self.own_sockets = socket_inodes(self.proc.pid)  # the listeners: no client has come yet

    # -- talking to it ---------------------------------------------------------
    @property
    def addr(self):
        return self.listen[0]

    def url(self, path="/"):
        """The URL of path on the first listener (a TCP one)."""
        return "http://%s%s" % (self.addr, path)

    def conn(self, addr=None, **kw):
        return HttpConn.open(addr or self.addr, **kw)

    def get(self, target, method="GET", headers=(), version="HTTP/1.1", addr=None):
        raw = http_request(method, target, headers, version)
        return exchange(addr or self.addr, raw, (method,))[0]

    def connections(self):
        """How many client connections the server holds now (accepted and not yet
        closed): the sockets it and its children (the fork model's) hold beyond
        those it had when it started listening. Read from /proc/PID/fd only."""
        pid = self.proc.pid
        inodes = socket_inodes(pid)
        for child, _ in children(pid):
            inodes |= socket_inodes(child)
        return len(inodes - self.own_sockets)

    def stdout(self):
        return read_text(self.stdout_path)

    def stderr(self):
        return read_text(self.stderr_path)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    # -- teardown ---------------------------------------------------------------
    def stop(self, timeout=None):
        """SIGTERM, wait for the exit (bounded), record and return the status.
        After one server hung, the others get 2 s: the suite must still end."""
        if self.proc is None:
            return None
        if timeout is None:
            timeout = STOP_TIMEOUT if _stop_timeouts[0] == 0 else 2.0
        self.stopped = True
        self.exit_status = stop(self.proc, timeout)
        if self.exit_status == "hung":
            _stop_timeouts[0] += 1
        return self.exit_status

    def finish(self):
        """Stops the server after a test; returns a problem to report, or None."""
        if self.proc is None:
            return None
        problem = None
        if not self.stopped:
            if self.proc.poll() is not None:
                problem = "server died during the test (status %s)" % describe_status(self.proc.returncode)
            else:
                status = self.stop()
                if status == "hung":
                    problem = "server did not exit within %.0f s of SIGTERM" % STOP_TIMEOUT
                elif status < 0 and status != -signal.SIGTERM:
                    problem = "server ended by %s when stopped" % describe_status(status)
        if problem is None:
            err = self.stderr()
            for marker in SANITIZER_MARKERS:
                if marker in err:
                    problem = "sanitizer report on stderr: %s" % short(err[err.index(marker) - 80:], 400)
                    break
        return problem

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            kill_hard(self.proc)


# The start-up errors of a model this build or this kernel cannot run.
MODEL_UNAVAILABLE = ("built without liburing", "the kernel refuses io_uring")
_model_missing = {}


def need_model(model):
    """Missing when this duct or this kernel cannot run model (the uring model
    needs liburing at build time and a kernel that allows io_uring). Found out
    once per model by starting a server; any other start-up failure is left to
    the tests to report."""
    if model not in _model_missing:
        workdir = tempfile.mkdtemp(prefix="duct-probe-")
        srv = Server(model, workdir, root=workdir)
        try:
            srv.start(access_log=False)
            _model_missing[model] = None
        except TestFailure:
            err = srv.stderr()
            lines = [l for l in err.splitlines() if any(m in l for m in MODEL_UNAVAILABLE)]
            _model_missing[model] = lines[0] if lines else None
        finally:
            srv.kill()
            (os.environ.get("KEEP") or shutil.rmtree(workdir, ignore_errors=True))
    if _model_missing[model]:
        raise Missing("model %s unavailable: %s" % (model, _model_missing[model]))


# ---------------------------------------------------------------------------
# Registry and runner.


class Case:
    """A registered test: its name, its function and the options it was registered with."""

    def __init__(self, name, fn, opts):
        self.name, self.fn = name, fn
        self.__dict__.update(opts)


class Registry(list):
    """The tests of a suite in registration order. defaults: the options every
    case has unless its decorator says otherwise."""

    def __init__(self, **defaults):
        super().__init__()
        self.defaults = defaults

    def case(self, **opts):
        """Registers fn under its own name."""
        def deco(fn):
            self.append(Case(fn.__name__, fn, dict(self.defaults, **opts)))
            return fn
        return deco

    def table(self, rows, **opts):
        """Registers fn(..., row=row) once per row; a row's first element names it."""
        def deco(fn):
            for row in rows:
                self.append(Case("%s[%s]" % (fn.__name__, row[0]), functools.partial(fn, row=row),
                                 dict(self.defaults, **opts)))
            return fn
        return deco


def selected(name):
    return not NAME_FILTER or NAME_FILTER in name


class Suite:
    """Counts outcomes and prints "ok", "FAIL" and "SKIP" lines as they come."""

    def __init__(self, dir):
        self.dir = dir
        self.passed = self.failed = 0
        self.skipped = []

    def workdir(self, prefix):
        """A fresh directory inside the suite's; the suite's is removed at the end."""
        return tempfile.mkdtemp(prefix=prefix, dir=self.dir)

    def record(self, name, outcome, reason=None, took=0.0):
        if outcome == "pass":
            self.passed += 1
            print("ok   %s (%.2f s)" % (name, took), flush=True)
        elif outcome == "skip":
            self.skipped.append((name, reason))
            print("SKIP %s: %s" % (name, reason), flush=True)
        else:
            self.failed += 1
            print("FAIL %s: %s" % (name, reason), flush=True)

    def run(self, name, fn, timeout=None, on_timeout=None, cleanup=None):
        """Runs fn() as the test `name` unless DUCT_TESTS leaves it out. After
        timeout seconds on_timeout() runs; it must make fn return (by killing the
        server fn talks to, say). Then cleanup() if given; then processes the test
        left running are killed."""
        if not selected(name):
            return None
        fired = []

        def expire():
            fired.append(True)
            if on_timeout:
                on_timeout()

        watchdog = threading.Timer(timeout, expire) if timeout else None
        if watchdog:
            watchdog.daemon = True
            watchdog.start()
        t0 = time.monotonic()
        try:
            fn()
            outcome, reason = "pass", None
        except Skip as e:
            outcome, reason = self.skip_outcome(e)
        except Exception as e:  # noqa: BLE001 - any error fails the one test
            outcome = "fail"
            reason = str(e) if isinstance(e, TestFailure) else "%s: %s" % (type(e).__name__, e)
            if fired:
                reason = "timed out after %d s (%s)" % (timeout, reason)
        finally:
            if watchdog:
                watchdog.cancel()
            try:
                if cleanup:
                    cleanup()
            finally:
                stop_all()
        self.record(name, outcome, reason, time.monotonic() - t0)
        return outcome

    @staticmethod
    def skip_outcome(skip):
        """(outcome, reason) of a Skip: a Missing one fails under DUCT_CI=1."""
        if isinstance(skip, Missing) and CI:
            return "fail", "skipped, and DUCT_CI=1 does not allow this skip: %s" % skip
        return "skip", str(skip)

    def skip(self, name, skip):
        """Records the test name as skipped for the reason skip (a Skip) without running it."""
        if selected(name):
            self.record(name, *self.skip_outcome(skip))

    def report(self):
        """The closing line; the exit status of the suite."""
        print("RESULT passed=%d failed=%d skipped=%d" % (self.passed, self.failed, len(self.skipped)), flush=True)
        return 1 if self.failed else 0


def run_server_case(suite, model, case, index, setup=None):
    """Runs case.fn(srv) as the test "model/name" with a fresh Server in a
    directory of its own: setup(srv) first if given, then, if case.start, the
    server is started with case.args. After the test the server is stopped and
    its exit and stderr checked (Server.finish); on case.timeout it is killed."""
    name = "%s/%s" % (model, case.name)
    if not selected(name):
        return None
    try:
        need_model(model)
    except Missing as e:
        return suite.skip(name, e)
    workdir = suite.workdir("%s-%03d-" % (model, index))
    srv = Server(model, workdir)

    def body():
        try:
            if setup:
                setup(srv)
            if case.start:
                srv.start(*case.args)
            case.fn(srv)
            problem = srv.finish()
            if problem:
                raise TestFailure(problem)
        finally:
            srv.kill()
            for fn in srv.cleanup:
                fn()
            (os.environ.get("KEEP") or shutil.rmtree(workdir, ignore_errors=True))

    return suite.run(name, body, timeout=case.timeout, on_timeout=srv.kill)


def main(name, body):
    """Runs body(suite) with SIGPIPE ignored, the descriptor limit raised (for
    the servers too), a temporary directory for the suite, and every process
    started here stopped at the end. Returns the exit status."""
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    raise_fd_limit()
    suite = Suite(tempfile.mkdtemp(prefix="duct-%s-test-" % name))
    os.chmod(suite.dir, 0o755)  # a test may run a command as nobody
    began = time.monotonic()
    try:
        if not (os.path.isfile(DUCT_BIN) and os.access(DUCT_BIN, os.X_OK)):
            suite.record("setup", "fail", "DUCT_BIN %s is not an executable file" % DUCT_BIN)
        else:
            body(suite)
    except Exception as e:  # noqa: BLE001 - a broken suite is one failure, not a traceback without RESULT
        suite.record("setup", "fail", "%s: %s" % (type(e).__name__, e))
    finally:
        stop_all()
        os.environ.get("KEEP") or shutil.rmtree(suite.dir, ignore_errors=True)
    print("# %s: %.1f s" % (name, time.monotonic() - began), flush=True)
    return suite.report()


def listed_models():
    """The models `duct serve --help` lists, in its order."""
    status, out, _ = run_text([DUCT_BIN, "serve", "--help"])
    found, inside = [], False
    for line in out.splitlines() if status == 0 else []:
        if "--model" in line:
            inside = True
            continue
        if inside:
            m = re.match(r"^\s{6,}([a-z][a-z0-9_]*)\s+\S", line)
            if not m:
                break
            found.append(m.group(1))
    return found


def run_models(suite, tests):
    """Runs every test of the registry `tests` once per model (DUCT_MODELS, or
    every model `duct serve --help` lists), each with a fresh Server; a test
    whose models do not include a model is not run for it."""
    listed = listed_models()
    if not listed:
        suite.record("setup", "fail", "`%s serve --help` lists no models" % DUCT_BIN)
        return
    for model in os.environ.get("DUCT_MODELS", "").split() or listed:
        started = time.monotonic()
        for index, test in enumerate(tests):
            if test.models is None or model in test.models:
                run_server_case(suite, model, test, index)
        print("# model %s: %.1f s" % (model, time.monotonic() - started), flush=True)
