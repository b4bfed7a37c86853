#!/usr/bin/env python
"""The documentation's pathoc library example, pointed at a pathod on this machine.

Start ``pathod`` first (it listens on 127.0.0.1:9999), or pass another host and port.
"""
import sys

from pathod import pathoc

host, port = (sys.argv[1], int(sys.argv[2])) if len(sys.argv) > 2 else ("127.0.0.1", 9999)

p = pathoc.Pathoc((host, port))
p.connect()
print(p.request("get:/p/200"))
print(p.request("get:/foo"))
