"""The User-Agent table shared by pathod's ``u`` shortcuts and the console's ``U`` key."""
from netlib.http import user_agents

# The shortcut names the spec's pathod language chapter lists.
SPEC_NAMES = ["android", "blackberry", "bingbot", "chrome", "firefox", "googlebot", "ie9",
              "ipad", "iphone", "safari"]


def test_every_name_of_the_spec_has_a_real_agent_and_one_key():
    assert [agent.name for agent in user_agents.UASTRINGS] == SPEC_NAMES
    keys = [agent.key for agent in user_agents.UASTRINGS]
    assert len(set(keys)) == len(keys) and all(len(key) == 1 for key in keys)
    for agent in user_agents.UASTRINGS:
        assert agent.string.startswith("Mozilla/5.0 (") and agent.string.isascii()


def test_lookups_by_name_and_by_key():
    assert user_agents.get_by_shortcut("Chrome") == user_agents.USER_AGENTS["chrome"]
    assert user_agents.get_by_shortcut("netscape") is None
    assert user_agents.get_by_key("h").name == "iphone"
    assert user_agents.get_by_key("z") is None
