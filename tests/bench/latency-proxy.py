#!/usr/bin/python3
"""latency-proxy.py --listen PORT --upstream HOST:PORT [--rtt-ms MS] [--control PORT]: a TCP proxy on
loopback that adds a round-trip time, for benchmarks on a kernel without netem.

Bytes are forwarded untouched (TLS passes through); each chunk read in one direction is written to the
other side RTT/2 after it arrived, in order, so a request and its answer together pay one RTT, pipelined
and multiplexed traffic keeps its overlap, and a TLS handshake pays its round trips as it would on a link
with that delay. The TCP handshake, which the proxy's own accept() hides from the client, is charged by
holding the client's first bytes until one RTT after the accept. Bandwidth is not limited.

Control (one line in, one line out, on --control PORT, 127.0.0.1):
  rtt MS     set the round trip for connections accepted from now on; answers "ok"
  count      connections accepted since the last reset (TCP handshakes); answers the number
  reset      zero the count; answers "ok"
On start it prints "latency-proxy: ready" on stdout."""
import argparse
import asyncio
import sys

CHUNK = 65536


class Proxy:
    def __init__(self, upstream, rtt_ms):
        self.host, port = upstream.rsplit(":", 1)
        self.port = int(port)
        self.rtt = rtt_ms / 1000.0
        self.accepted = 0

    async def pump(self, reader, writer, delay, not_before=0.0):
        """Copy reader to writer, each chunk delay seconds after it was read (and not before not_before on
        the loop's clock); order is kept because one queue feeds one writer."""
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()

        async def read_side():
            try:
                while True:
                    data = await reader.read(CHUNK)
                    queue.put_nowait((max(loop.time(), not_before) + delay, data))
                    if not data:
                        return
            except (ConnectionError, OSError):
                queue.put_nowait((max(loop.time(), not_before) + delay, b""))

        async def write_side():
            try:
                while True:
                    due, data = await queue.get()
                    wait = due - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    if not data:
                        if writer.can_write_eof():
                            writer.write_eof()
                        return
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                return

        await asyncio.gather(read_side(), write_side())

    async def handle(self, c_reader, c_writer):
        self.accepted += 1
        rtt = self.rtt
        # The connection is accepted here at once, but on a real link the client's connect() returns one
        # round trip (SYN, SYN-ACK) later: nothing it sends may leave before that.
        handshake_done = asyncio.get_running_loop().time() + rtt
        try:
            u_reader, u_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            c_writer.close()
            return
        try:
            await asyncio.gather(self.pump(c_reader, u_writer, rtt / 2, handshake_done),
                                 self.pump(u_reader, c_writer, rtt / 2))
        finally:
            for w in (c_writer, u_writer):
                try:
                    w.close()
                except OSError:
                    pass

    async def control(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                words = line.decode(errors="replace").split()
                if words[:1] == ["rtt"] and len(words) == 2:
                    self.rtt = float(words[1]) / 1000.0
                    answer = "ok"
                elif words == ["count"]:
                    answer = str(self.accepted)
                elif words == ["reset"]:
                    self.accepted = 0
                    answer = "ok"
                else:
                    answer = "error: rtt MS | count | reset"
                writer.write((answer + "\n").encode())
                await writer.drain()
        finally:
            writer.close()


async def main():
    ap = argparse.ArgumentParser(description="TCP proxy adding a round-trip time")
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--rtt-ms", type=float, default=0.0)
    ap.add_argument("--control", type=int)
    a = ap.parse_args()
    proxy = Proxy(a.upstream, a.rtt_ms)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", a.listen, backlog=256)
    if a.control:
        await asyncio.start_server(proxy.control, "127.0.0.1", a.control)
    print("latency-proxy: ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
