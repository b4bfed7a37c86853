"""MultiDict and MultiDictView, as the spec's Datastructures chapter documents them."""
import pytest

from netlib.multidict import MultiDict, MultiDictView, fields_of


def sample() -> MultiDict:
    return MultiDict([("name", "value"), ("a", False), ("a", 42)])


def test_to_dict_folds_repeated_keys_into_lists():
    """The spec's example, verbatim."""
    assert sample().to_dict() == {"name": "value", "a": [False, 42]}


def test_getitem_returns_the_first_value():
    assert sample()["a"] is False


def test_getitem_of_a_missing_key_raises_keyerror():
    with pytest.raises(KeyError):
        sample()["missing"]


def test_get_returns_default_for_a_missing_key():
    assert sample().get("missing", "default") == "default"


def test_setitem_replaces_all_values_in_place():
    d = MultiDict([("a", 1), ("b", 2), ("a", 3)])
    d["a"] = 9
    assert d.fields == (("a", 9), ("b", 2))


def test_setitem_of_a_new_key_appends_it():
    d = MultiDict([("a", 1)])
    d["b"] = 2
    assert d.fields == (("a", 1), ("b", 2))


def test_delitem_removes_every_value():
    d = sample()
    del d["a"]
    assert d.fields == (("name", "value"),)


def test_delitem_of_a_missing_key_raises_keyerror():
    with pytest.raises(KeyError):
        del sample()["missing"]


def test_get_all_returns_every_value_or_an_empty_list():
    d = sample()
    assert d.get_all("a") == [False, 42]
    assert d.get_all("missing") == []


def test_set_all_keeps_positions_and_appends_surplus_values():
    d = MultiDict([("a", 1), ("b", 2), ("a", 3)])
    d.set_all("a", [10, 30, 50])
    assert d.fields == (("a", 10), ("b", 2), ("a", 30), ("a", 50))


def test_set_all_with_fewer_values_drops_the_later_fields():
    d = MultiDict([("a", 1), ("b", 2), ("a", 3)])
    d.set_all("a", [10])
    assert d.fields == (("a", 10), ("b", 2))


def test_add_appends_at_the_bottom():
    d = sample()
    d.add("name", "second")
    assert d.fields[-1] == ("name", "second")
    assert d.get_all("name") == ["value", "second"]


def test_insert_places_a_field_at_an_index():
    d = sample()
    d.insert(0, "first", 1)
    assert d.fields[0] == ("first", 1)
    assert len(d.fields) == 4


def test_keys_values_items_without_multi_give_one_entry_per_key():
    d = sample()
    assert d.keys() == ["name", "a"]
    assert d.values() == ["value", False]
    assert d.items() == [("name", "value"), ("a", False)]


def test_keys_values_items_with_multi_give_every_field():
    d = sample()
    assert d.keys(multi=True) == ["name", "a", "a"]
    assert d.values(multi=True) == ["value", False, 42]
    assert d.items(multi=True) == [("name", "value"), ("a", False), ("a", 42)]


def test_len_iter_and_contains_count_unique_keys():
    d = sample()
    assert len(d) == 2
    assert list(d) == ["name", "a"]
    assert "a" in d
    assert "missing" not in d


def test_equality_compares_fields_in_order():
    assert sample() == sample()
    assert MultiDict([("a", 1), ("b", 2)]) != MultiDict([("b", 2), ("a", 1)])
    assert sample() != {"name": "value", "a": False}


def test_multidicts_are_unhashable():
    with pytest.raises(TypeError):
        hash(sample())


def test_copy_is_independent():
    d = sample()
    c = d.copy()
    c["name"] = "changed"
    assert d["name"] == "value"
    assert isinstance(c, MultiDict)


def test_fields_is_a_tuple_of_tuples():
    assert MultiDict([["a", 1]]).fields == (("a", 1),)


def test_state_round_trip():
    d = sample()
    state = d.get_state()
    assert state == [["name", "value"], ["a", False], ["a", 42]]
    assert MultiDict.from_state(state) == d
    other = MultiDict()
    other.set_state(state)
    assert other == d


def test_repr_shows_the_fields():
    assert repr(MultiDict([("a", 1)])) == "MultiDict([('a', 1)])"


def test_mutable_mapping_helpers_work():
    d = sample()
    assert d.pop("name") == "value"
    d.update({"x": 1})
    assert d.setdefault("x", 2) == 1
    assert d["x"] == 1


class Parent:
    """Holds fields the way a Request holds its query string."""

    def __init__(self):
        self.stored = (("a", "1"), ("b", "2"))

    def view(self) -> MultiDictView:
        return MultiDictView(lambda: self.stored, self.write)

    def write(self, fields):
        self.stored = fields


def test_view_reads_through_the_getter():
    parent = Parent()
    view = parent.view()
    parent.stored = (("c", "3"),)
    assert view.fields == (("c", "3"),)
    assert view["c"] == "3"


def test_view_writes_every_change_back_through_the_setter():
    parent = Parent()
    view = parent.view()
    view["a"] = "changed"
    view.add("a", "again")
    del view["b"]
    assert parent.stored == (("a", "changed"), ("a", "again"))


def test_view_copy_is_a_detached_multidict():
    parent = Parent()
    copy = parent.view().copy()
    copy["a"] = "x"
    assert isinstance(copy, MultiDict)
    assert parent.stored[0] == ("a", "1")


def test_view_equals_a_multidict_with_the_same_fields():
    assert Parent().view() == MultiDict([("a", "1"), ("b", "2")])


def test_fields_of_accepts_multidicts_mappings_and_pair_lists():
    assert fields_of(sample()) == (("name", "value"), ("a", False), ("a", 42))
    assert fields_of({"a": 1}) == (("a", 1),)
    assert fields_of([["a", 1]]) == (("a", 1),)
