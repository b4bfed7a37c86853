"""The protocol toolkit: sockets, TLS, certificates, HTTP/1, HTTP/2 and WebSocket frames,
SOCKS5, tnetstrings and multidicts. netlib knows nothing of proxies or flows."""
