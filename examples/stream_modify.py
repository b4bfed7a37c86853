"""
This inline script modifies a streamed response.
If you do not need streaming, see the modify_response_body example.
Be aware that content replacement isn't trivial:
- If the transfer encoding isn't chunked, you cannot simply change the content length.
- If you want to replace all occurrences of "foobar", make sure to catch the cases
  where one chunk ends with [...]foo" and the next starts with "bar[...].

Usage: mitmdump -s examples/stream_modify.py
"""


def modify(chunks):
    """
    chunks is a generator that can be used to iterate over all chunks (bytes).
    """
    for chunk in chunks:
        yield chunk.replace(b"foo", b"bar")


def responseheaders(flow):
    flow.response.stream = modify
