"""Address: a value that round-trips through flows and prints the way users type it."""
import pytest

from netlib import exceptions
from netlib.tcp import Address


def test_ipv4_basics():
    a = Address("127.0.0.1", 8080)
    assert a.host == "127.0.0.1"
    assert a.port == 8080
    assert a.address == ("127.0.0.1", 8080)
    assert not a.use_ipv6
    assert str(a) == "127.0.0.1:8080"
    assert repr(a) == "Address('127.0.0.1', 8080)"


def test_ipv6_is_detected_and_bracketed():
    a = Address("::1", 443)
    assert a.use_ipv6
    assert str(a) == "[::1]:443"
    assert Address("fe80::1%eth0", 1).use_ipv6


def test_hostname_is_not_ipv6_and_bytes_are_decoded():
    a = Address(b"example.com", "80")
    assert a.host == "example.com" and a.port == 80
    assert not a.use_ipv6
    assert str(a) == "example.com:80"


def test_wrap_accepts_addresses_and_socket_tuples():
    a = Address("1.2.3.4", 5)
    assert Address.wrap(a) is a
    assert Address.wrap(("1.2.3.4", 5)) == a
    six = Address.wrap(("::1", 80, 0, 0))  # what getpeername returns for IPv6
    assert six.use_ipv6 and six.address == ("::1", 80)


@pytest.mark.parametrize("bad", [None, "host", ("host",), 5])
def test_wrap_rejects_non_addresses(bad):
    with pytest.raises(exceptions.AddressException):
        Address.wrap(bad)


@pytest.mark.parametrize("port", [-1, 65536, "http", None])
def test_invalid_ports_are_refused_with_the_value(port):
    with pytest.raises(exceptions.AddressException, match="port"):
        Address("localhost", port)


def test_equality_and_hash_follow_host_and_port():
    a = Address("localhost", 80)
    assert a == Address("localhost", 80)
    assert a == ("localhost", 80)
    assert a != Address("localhost", 81)
    assert a != "localhost:80"
    assert len({a, Address("localhost", 80), Address("localhost", 81)}) == 2


def test_state_round_trip():
    a = Address("::1", 8080)
    state = a.get_state()
    assert state == {"address": ("::1", 8080), "use_ipv6": True}
    b = Address("x", 1)
    b.set_state(state)
    assert b == a and b.use_ipv6
    b.set_state({"address": (b"example.com", 80), "use_ipv6": False})
    assert b.address == ("example.com", 80)
    assert Address.from_state(state) == a
