"""Changes HTML form submissions (application/x-www-form-urlencoded) on their way out:
adds ``mitmproxy=rocks`` to every submitted form, and gives a POST that has no body at
all the form ``foo=bar`` (setting ``urlencoded_form`` also sets the Content-Type).

Usage: mitmdump -s examples/modify_form.py
"""


def request(flow):
    if flow.request.urlencoded_form:
        flow.request.urlencoded_form["mitmproxy"] = "rocks"
    elif flow.request.method == "POST" and not flow.request.content:
        flow.request.urlencoded_form = [("foo", "bar")]
