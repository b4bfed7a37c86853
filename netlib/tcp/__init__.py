"""TCP and TLS connections: addresses, buffered I/O, clients, the threaded server."""
from netlib.tcp.buffered import Reader, Writer

__all__ = ["Reader", "Writer"]
