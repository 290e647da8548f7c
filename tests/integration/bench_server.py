#!/usr/bin/env python3
"""A small HTTP/1.1 server with known misbehaviour, for the tests of `duct bench`.

Run: python3 bench_server.py [options]; prints "PORT n" (or "READY") once it
listens, then serves until SIGTERM. Only the standard library is used.

Every request gets a numbered response, counted over all connections from 1;
the options pick what happens to the responses whose number is a multiple of N:
  --delay-every N --delay-ms D   answer D ms late
  --cut-every N                  announce Content-Length 100, send 10 bytes, close
  --reset-every N                close with SO_LINGER 0 (a TCP reset) instead of answering
  --status-every N --status S    answer with status S instead of 200
  --silent                       never answer (requests are read and ignored)
  --stall-after S --stall-ms D   S seconds after the first request, hold every
                                 response for D ms (a server that stops for a while)
  --chunked                      send bodies with Transfer-Encoding: chunked
  --echo-tcp / --echo-udp        be a TCP or UDP echo server instead of HTTP
  --drop-every N                 (UDP) do not echo datagram number N, 2N, ...
"""

import argparse
import asyncio
import signal
import socket
import struct
import sys
import time

BODY = b"x" * 64


class State:
    def __init__(self, opts):
        self.opts = opts
        self.count = 0
        self.first = None


def response_bytes(opts, status):
    reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error", 302: "Found"}.get(status, "Other")
    if opts.chunked:
        body = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, BODY[:10], len(BODY) - 10, BODY[10:])
        head = "HTTP/1.1 %d %s\r\nTransfer-Encoding: chunked\r\n\r\n" % (status, reason)
    else:
        body = BODY
        head = "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n" % (status, reason, len(BODY))
    return head.encode() + body


async def read_request(reader):
    """One request head (and its Content-Length body); None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return head


def reset(writer):
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def stall(state):
    """During the stall window, wait until it ends."""
    opts = state.opts
    if opts.stall_ms <= 0 or state.first is None:
        return
    start = state.first + opts.stall_after
    end = start + opts.stall_ms / 1000.0
    now = time.monotonic()
    if start <= now < end:
        await asyncio.sleep(end - now)


async def serve_http(state, reader, writer):
    opts = state.opts
    try:
        while True:
            head = await read_request(reader)
            if head is None:
                break
            if opts.silent:
                continue
            if state.first is None:
                state.first = time.monotonic()
            state.count += 1
            n = state.count
            if opts.reset_every and n % opts.reset_every == 0:
                reset(writer)
                return
            if opts.cut_every and n % opts.cut_every == 0:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"y" * 10)
                await writer.drain()
                break
            status = opts.status if opts.status_every and n % opts.status_every == 0 else 200
            if opts.delay_every and n % opts.delay_every == 0:
                await asyncio.sleep(opts.delay_ms / 1000.0)
            await stall(state)
            writer.write(response_bytes(opts, status))
            await writer.drain()
            if b"connection: close" in head.lower():
                break
    except ConnectionError:
        pass
    writer.close()


async def serve_echo_tcp(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


class EchoUdp(asyncio.DatagramProtocol):
    def __init__(self, opts):
        self.opts = opts
        self.count = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.count += 1
        if self.opts.drop_every and self.count % self.opts.drop_every == 0:
            return
        self.transport.sendto(data, addr)


async def main_async(opts):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    if opts.echo_udp:
        transport, _ = await loop.create_datagram_endpoint(lambda: EchoUdp(opts), local_addr=("127.0.0.1", opts.port))
        port = transport.get_extra_info("sockname")[1]
    else:
        state = State(opts)
        handler = serve_echo_tcp if opts.echo_tcp else (lambda r, w: serve_http(state, r, w))
        server = await asyncio.start_server(handler, "127.0.0.1", opts.port, backlog=1024)
        port = server.sockets[0].getsockname()[1]
    print("PORT %d" % port, flush=True)
    await stop


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    for name in ("delay-every", "cut-every", "reset-every", "status-every", "drop-every"):
        p.add_argument("--" + name, type=int, default=0)
    p.add_argument("--delay-ms", type=float, default=0)
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--stall-after", type=float, default=0)
    p.add_argument("--stall-ms", type=float, default=0)
    for flag in ("chunked", "silent", "echo-tcp", "echo-udp"):
        p.add_argument("--" + flag, action="store_true")
    opts = p.parse_args()
    asyncio.run(main_async(opts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
