"""A stream read ahead in a thread of its own: decompression (and hashing) of a layer runs
while the unpacker writes files.

zlib, zstandard and hashlib release the GIL on large buffers, so a gzip layer read through
`ReadAhead(gzip.GzipFile(fileobj=raw))` is inflated on a second core while unpack.py's
thread spends its time in system calls (benchmarks/unpack.py measures it).
"""

import queue
import threading

CHUNK = 1 << 20
DEPTH = 8  # chunks in flight: at most DEPTH MiB held


class ReadAhead:
    """A file-like `.read(n)` over `stream`, which a thread reads CHUNK bytes at a time.
    An error in that thread is raised by the read that reaches it.  Use it as a context
    manager (or call close()): that stops the thread, whatever the reader left unread."""

    def __init__(self, stream, chunk: int = CHUNK, depth: int = DEPTH):
        self.stream, self.chunk = stream, chunk
        self.queue: queue.Queue = queue.Queue(depth)
        self.stopped = threading.Event()
        self.buffer, self.offset, self.eof = b"", 0, False
        self.thread = threading.Thread(target=self._fill, name="readahead", daemon=True)
        self.thread.start()

    def _fill(self) -> None:
        try:
            while not self.stopped.is_set():
                data = self.stream.read(self.chunk)
                self._put(data)
                if not data:
                    return
        except BaseException as e:  # handed to the reader, raised there
            self._put(e)

    def _put(self, item) -> None:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                pass

    def read(self, n: int = -1) -> bytes:
        """At most `n` bytes (fewer at a chunk's end), b"" at the end; all that is left
        for n < 0."""
        if n < 0:
            return b"".join(iter(lambda: self.read(self.chunk), b""))
        if self.offset >= len(self.buffer):
            if self.eof:
                return b""
            item = self.queue.get()
            if isinstance(item, BaseException):
                self.eof = True
                raise item
            self.buffer, self.offset, self.eof = item, 0, not item
        data = self.buffer[self.offset:self.offset + n] if self.offset or n < len(self.buffer) else self.buffer
        self.offset += len(data)
        return data

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
