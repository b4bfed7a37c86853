"""User-Agent strings of common clients, each with a name and a one-key shortcut.

Servers treat these clients differently (mobile layouts, crawler rules), so a test wants the
string a real client of that kind sends, not a placeholder. Two tools take them: pathod's
language by name (``uchrome``, ``ugooglebot``) and the console's header editor by key
(``U`` then ``c``). The names are the spec's (pathod language, ``u`` shortcut); the keys are
0.18's.
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["UserAgent", "UASTRINGS", "USER_AGENTS", "get_by_shortcut", "get_by_key"]


class UserAgent(NamedTuple):
    name: str  # the pathod shortcut: "chrome"
    key: str  # the console's one-key shortcut: "c"
    string: str  # the header value


UASTRINGS: tuple[UserAgent, ...] = (
    UserAgent("android", "a", (
        "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/116.0.0.0 Mobile Safari/537.36")),
    UserAgent("blackberry", "l", (
        "Mozilla/5.0 (BlackBerry; U; BlackBerry 9900; en) AppleWebKit/534.11+ "
        "(KHTML, like Gecko) Version/7.1.0.346 Mobile Safari/534.11+")),
    UserAgent("bingbot", "b",
              "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"),
    UserAgent("chrome", "c", (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/116.0.0.0 Safari/537.36")),
    UserAgent("firefox", "f",
              "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/117.0"),
    UserAgent("googlebot", "g",
              "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    UserAgent("ie9", "i", "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)"),
    UserAgent("ipad", "p", (
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1")),
    UserAgent("iphone", "h", (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1")),
    UserAgent("safari", "s", (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/16.6 Safari/605.1.15")),
)

# name -> User-Agent string
USER_AGENTS: dict[str, str] = {agent.name: agent.string for agent in UASTRINGS}


def get_by_shortcut(name: str) -> str | None:
    """The User-Agent for a shortcut name (any case), or None."""
    return USER_AGENTS.get(name.lower())


def get_by_key(key: str) -> UserAgent | None:
    """The client whose one-key shortcut is ``key``, or None."""
    return next((agent for agent in UASTRINGS if agent.key == key), None)
