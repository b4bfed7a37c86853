"""Exports of a flow, checked by running them: the curl command with the real curl through
/bin/sh, the Python code with this interpreter, both against a loopback origin that records
what it received (conftest's ``origin``), which must be the flow's request: method, path,
header fields and body.
"""
from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import unquote

import pytest

from libmproxy.console import export
from libmproxy.models import ClientConnection, HTTPFlow, HTTPRequest, HTTPResponse, ServerConnection

RUN_WAIT = 30.0  # seconds for one exported command to run; reached only when it hangs

# Every byte value, the ones a shell or a terminal treats specially included.
ALL_BYTES = bytes(range(256)) + b"'\"$`\\%\n"


def make_flow(port: int, method: str = "GET", path: str = "/", headers=(), body: bytes = b"",
              response: HTTPResponse | None = None) -> HTTPFlow:
    flow = HTTPFlow(ClientConnection(("127.0.0.1", 5000)), ServerConnection(("127.0.0.1", port)))
    fields = [("Host", f"127.0.0.1:{port}"), *headers]
    if body:
        fields.append(("Content-Length", str(len(body))))
    flow.request = HTTPRequest("absolute", method, "http", "127.0.0.1", port, path, "HTTP/1.1",
                               fields, body)
    flow.response = response
    return flow


def no_proxy_env() -> dict[str, str]:
    """This environment without proxy settings: the exports go straight to the origin."""
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def run_curl_export(flow: HTTPFlow, tmp_path) -> subprocess.CompletedProcess:
    """The command as a shell script (as saved by the export menu; a large body would not
    fit in one ``sh -c`` argument)."""
    script = tmp_path / "export.sh"
    script.write_bytes(export.curl_command(flow).encode("utf-8", "surrogateescape")
                       + b" --silent --show-error --max-time 20 --noproxy '*'\n")
    return subprocess.run(["/bin/sh", str(script)], capture_output=True, timeout=RUN_WAIT,
                          env=no_proxy_env())


def run_python_export(flow: HTTPFlow, tmp_path) -> subprocess.CompletedProcess:
    script = tmp_path / "export.py"
    script.write_text(export.python_code(flow))
    return subprocess.run([sys.executable, str(script)], capture_output=True, timeout=RUN_WAIT,
                          env=no_proxy_env())


def sent_fields(flow: HTTPFlow) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in flow.request.headers.fields
            if k.lower() != b"content-length"]


def received_fields(seen: dict) -> list[tuple[str, str]]:
    return [(k, v) for k, v in seen["headers"] if k.lower() != "content-length"]


def content_length(seen: dict) -> str | None:
    return dict((k.lower(), v) for k, v in seen["headers"]).get("content-length")


REQUESTS = {
    "text body, quotes and shell characters": dict(
        method="PUT", path="/a/b?x=1&y=%20z",
        headers=[("User-Agent", "agent/1"), ("Accept", "*/*"),
                 ("Content-Type", "text/plain; charset=utf-8"), ("X-Dup", "one"),
                 ("X-Dup", "two"), ("X-Quote", "it's \"$HOME\" `id`")],
        body="it's a \"body\" with $HOME, `id`, \\ and ünïcode\nsecond line\n".encode()),
    "binary body, no headers of the tool's own": dict(method="POST", path="/bin",
                                                     body=ALL_BYTES),
    "large text body": dict(method="POST", path="/large",
                            headers=[("Content-Type", "application/json")],
                            body=b'{"k": "' + b"v" * (3 * export.CURL_ARG_BYTES) + b'"}'),
    "empty header value, GET without body": dict(
        method="GET", path="/q?a=[1]&b={2}", headers=[("X-Empty", ""), ("Accept", "text/html")]),
    "DELETE without body": dict(method="DELETE", path="/item/1",
                                headers=[("Content-Length", "0")]),
    "HEAD": dict(method="HEAD", path="/head"),
    "dot segments kept": dict(method="GET", path="/x/../y/./z"),
}


@pytest.mark.parametrize("case", REQUESTS)
def test_curl_command_sends_the_flows_request(origin, tmp_path, case):
    flow = make_flow(origin.port, **REQUESTS[case])
    result = run_curl_export(flow, tmp_path)
    assert result.returncode == 0, result.stderr
    seen = origin.last()
    assert seen["method"] == flow.request.method
    assert seen["path"] == flow.request.path
    assert seen["body"] == flow.request.raw_content
    assert received_fields(seen) == sent_fields(flow)
    body = flow.request.raw_content
    assert content_length(seen) == (str(len(body)) if body or flow.request.method == "DELETE"
                                    else None)


# urllib3 removes "/../" and "/./" from every URL; the module docstring says so.
@pytest.mark.parametrize("case", [case for case in REQUESTS if case != "dot segments kept"])
def test_python_code_sends_the_flows_request(origin, tmp_path, case):
    flow = make_flow(origin.port, **REQUESTS[case])
    result = run_python_export(flow, tmp_path)
    assert result.returncode == 0, result.stderr
    seen = origin.last()
    assert seen["method"] == flow.request.method
    # requests percent-encodes what RFC 3986 does not allow in a URL, as "[" and "{".
    assert unquote(seen["path"]) == unquote(flow.request.path)
    assert seen["body"] == flow.request.raw_content
    # requests takes a dict: its own headers come first and repeated fields are folded.
    expected: dict[str, str] = {}
    for name, value in sent_fields(flow):
        expected[name] = f"{expected[name]}, {value}" if name in expected else value
    assert sorted(received_fields(seen)) == sorted(expected.items())
    if flow.request.method != "HEAD":
        assert result.stdout.decode().startswith("{")  # the origin's JSON echo was printed


@pytest.mark.parametrize("run_export", [run_curl_export, run_python_export])
def test_headers_meant_for_the_proxy_are_not_exported(origin, tmp_path, run_export):
    """A client talking to mitmproxy sends Proxy-Connection (curl does) and maybe
    Proxy-Authorization; the proxy never passes them on, and neither does an export."""
    flow = make_flow(origin.port, headers=[("Proxy-Connection", "Keep-Alive"),
                                           ("Proxy-Authorization", "Basic dTpw"),
                                           ("X-Kept", "1")])
    assert run_export(flow, tmp_path).returncode == 0
    names = [name.lower() for name, _ in origin.last()["headers"]]
    assert "x-kept" in names
    assert "proxy-connection" not in names and "proxy-authorization" not in names


def test_curl_command_reads_as_a_user_would_type_it():
    flow = make_flow(8080, method="POST", path="/p", headers=[("User-Agent", "u"),
                                                             ("Accept", "*/*"),
                                                             ("Content-Type", "text/plain")],
                     body=b"hello")
    assert export.curl_command(flow) == (
        "curl -H 'Host: 127.0.0.1:8080' -H 'User-Agent: u' -H 'Accept: */*' "
        "-H 'Content-Type: text/plain' -H Expect: --data-raw hello http://127.0.0.1:8080/p"
    )


def test_content_encoded_body_is_exported_as_sent(origin, tmp_path):
    """The body goes as it went over the wire, with its Content-Encoding."""
    import gzip
    body = gzip.compress(b'{"a": 1}', mtime=0)
    flow = make_flow(origin.port, method="POST", path="/gz",
                     headers=[("Content-Encoding", "gzip"), ("Content-Type", "application/json")],
                     body=body)
    assert run_curl_export(flow, tmp_path).returncode == 0
    assert origin.last()["body"] == body


def test_raw_request_and_response():
    response = HTTPResponse("HTTP/1.1", 404, "Not Found", [("Content-Type", "text/plain"),
                                                          ("Content-Length", "4")], b"nope")
    flow = make_flow(8080, method="POST", path="/p?q=1", headers=[("X-A", "b")], body=b"\x00\xff",
                     response=response)
    flow.request.first_line_format = "relative"
    assert export.raw_request(flow) == (
        b"POST /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-A: b\r\nContent-Length: 2\r\n\r\n"
        b"\x00\xff"
    )
    assert export.raw_response(flow) == (
        b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnope"
    )


@pytest.mark.parametrize("exporter", [export.curl_command, export.python_code,
                                      export.raw_request])
def test_exporting_a_streamed_request_says_why_it_cannot(exporter):
    flow = make_flow(8080)
    flow.request.raw_content = None
    with pytest.raises(ValueError, match="streamed"):
        exporter(flow)


def test_raw_response_of_a_flow_without_response_says_so():
    with pytest.raises(ValueError, match="no response"):
        export.raw_response(make_flow(8080))


def test_connect_request_cannot_be_exported_as_code():
    flow = make_flow(8080)
    flow.request = HTTPRequest("authority", "CONNECT", None, "example.com", 443, "", "HTTP/1.1",
                               [], b"")
    with pytest.raises(ValueError, match="tunnel"):
        export.curl_command(flow)
