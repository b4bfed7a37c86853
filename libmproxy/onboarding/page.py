"""The HTML of the onboarding page: one static document, inline CSS, no scripts.

Kept apart from the routing so the words can change without touching the logic. Every
link points at a route of ``app.CA_FILES``; the test checks that each platform links the
format its certificate store expects.
"""
from __future__ import annotations

__all__ = ["PLATFORMS", "render_index"]

# (title, download route, what to do after downloading). The format per platform is what
# that platform's certificate installer takes: Windows imports PKCS#12, many Android
# versions only offer to install a file named .cer, everything else reads PEM.
PLATFORMS: tuple[tuple[str, str, str], ...] = (
    ("Apple (iOS / macOS)", "/cert/pem",
     "On iOS, open the downloaded profile in Settings, install it, then turn on full trust "
     "under General &rarr; About &rarr; Certificate Trust Settings. On macOS, open the file "
     "in Keychain Access and set it to &ldquo;Always Trust&rdquo;."),
    ("Windows", "/cert/p12",
     "Open the file and import it into the &ldquo;Trusted Root Certification "
     "Authorities&rdquo; store. There is no password."),
    ("Android", "/cert/cer",
     "Open the file, or install it under Settings &rarr; Security &rarr; Install from "
     "storage, and give it a name."),
    ("Firefox", "/cert/pem",
     "Firefox keeps its own list: in its settings, under Certificates &rarr; View "
     "Certificates &rarr; Authorities, import the file and trust it to identify websites."),
    ("Other / Linux", "/cert/pem",
     "Install the PEM file as a trusted root in your system's or application's certificate "
     "store, e.g. with update-ca-certificates."),
)

_STYLE = """
body { font-family: sans-serif; max-width: 44em; margin: 2em auto; padding: 0 1em;
       color: #222; background: #fafafa; }
h1 { font-size: 1.6em; }
ul { list-style: none; padding: 0; }
li { background: #fff; border: 1px solid #ddd; border-radius: 6px; margin: .8em 0;
     padding: .8em 1em; }
a.download { font-size: 1.2em; font-weight: bold; color: #0a5; text-decoration: none; }
p.note { color: #666; font-size: .9em; }
"""


def render_index(app_host: str) -> bytes:
    """The page served at ``/``: where to get the proxy's CA certificate, per platform."""
    items = "\n".join(
        f'<li><a class="download" href="{route}">{title}</a><p>{howto}</p></li>'
        for title, route, howto in PLATFORMS
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mitmproxy: install the CA certificate</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>mitmproxy</h1>
<p>Your traffic goes through mitmproxy. To let it decrypt HTTPS without warnings, make
this device trust mitmproxy's certificate authority: pick your platform to download the
certificate.</p>
<ul>
{items}
</ul>
<p class="note">The certificate authority was made for this mitmproxy installation alone.
Only install it on devices whose traffic you mean to inspect, and remove it when you are
done. This page is served by the proxy itself at {app_host}; it never reaches the
internet.</p>
</body>
</html>
""".encode("utf-8")
