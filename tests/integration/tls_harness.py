"""TLS for the integration tests: certificates made at test time with the
`openssl` command, a client context trusting them, and HttpConn over TLS
(Python's ssl module as the client), so that the raw-socket HTTP helpers of
harness.py read responses from an HTTPS listener unchanged."""

import os
import socket
import ssl
import subprocess

from harness import IO_TIMEOUT, HttpConn, Missing, TestFailure, connect, exchange, http_request, parse_listen

# The default certificate's names, and another certificate's for SNI.
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")
OTHER_NAME = "other.test"


def need_openssl():
    try:
        subprocess.run(["openssl", "version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       timeout=5)
    except (OSError, subprocess.SubprocessError):
        raise Missing("the openssl command is not installed")


def make_cert(directory, stem, names, days=2):
    """An ECDSA P-256 key and a self-signed certificate for names, in
    directory/stem.key and directory/stem.pem; returns (cert, key)."""
    need_openssl()
    cert = os.path.join(directory, stem + ".pem")
    key = os.path.join(directory, stem + ".key")
    san = ",".join(("IP:" if n[0].isdigit() or ":" in n else "DNS:") + n for n in names)
    cmd = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", key, "-out", cert, "-days", str(days), "-subj", "/CN=" + names[0],
           "-addext", "subjectAltName=" + san]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        raise TestFailure("openssl req failed: %s" % r.stderr.decode(errors="replace")[:300])
    return cert, key


def client_context(cafile, alpn=("http/1.1",)):
    ctx = ssl.create_default_context(cafile=cafile)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def wrap(sock, ctx, server_hostname="localhost", session=None):
    try:
        return ctx.wrap_socket(sock, server_hostname=server_hostname, session=session)
    except BaseException:
        sock.close()
        raise


class TlsConn(HttpConn):
    """HttpConn on a TLS connection: the same response reader, over ssl."""

    @classmethod
    def open(cls, addr, ctx=None, server_hostname="localhost", session=None, **kw):
        return cls(wrap(connect(addr, **kw), ctx, server_hostname, session))

    def closed_by_peer(self, timeout=3.0):
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(IO_TIMEOUT)


def tls_exchange(addr, ctx, raw, methods=("GET",)):
    """exchange() over TLS: raw bytes on a new TLS connection, one response per method."""
    with TlsConn.open(addr, ctx) as conn:
        conn.send(raw)
        return [conn.read_response(m) for m in methods]


def tls_get(addr, ctx, target, method="GET", headers=()):
    return tls_exchange(addr, ctx, http_request(method, target, headers), (method,))[0]


__all__ = ["DEFAULT_NAMES", "OTHER_NAME", "TlsConn", "client_context", "exchange", "make_cert", "need_openssl",
           "parse_listen", "tls_exchange", "tls_get", "wrap"]
