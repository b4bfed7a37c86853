"""Small helpers for the language tests."""
import io

from libpathod.language import Settings, serve


def render(msg, settings=None) -> bytes:
    """The bytes of an already-resolved message, without serving it (no actions)."""
    settings = settings or Settings()
    return b"".join(v[0:len(v)] for v in msg.values(settings))


def served(msg, settings=None) -> tuple[bytes, dict]:
    out = io.BytesIO()
    log = serve(msg, out, settings or Settings())
    return out.getvalue(), log
