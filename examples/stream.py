"""Streams every response: the body goes to the client chunk by chunk as it arrives,
instead of being read whole first. Streamed bodies are not kept, so later events see
an empty body and cannot change it.

Usage: mitmdump -s examples/stream.py
"""


def responseheaders(flow):
    """
    Enables streaming for all responses.
    """
    flow.response.stream = True
