"""Lazy byte sources: any slice without building the whole, determinism by seed."""
import pytest

from libpathod.language import RenderError
from libpathod.language.generators import (
    DATATYPES, RANDOM_PERIOD, FileGenerator, MaskedSource, RandomGenerator, iter_blocks,
    source_bytes,
)


def test_random_generator_slices_agree_with_the_whole():
    gen = RandomGenerator(3 * RANDOM_PERIOD + 17, "bytes", seed=1)
    whole = gen[0:len(gen)]
    assert len(whole) == len(gen)
    for start, stop in [(0, 10), (RANDOM_PERIOD - 5, RANDOM_PERIOD + 5), (10, 2 * RANDOM_PERIOD + 3),
                        (len(gen) - 3, len(gen) + 100), (50, 40)]:
        assert gen[start:stop] == whole[start:stop]


def test_random_generator_is_a_function_of_its_seed():
    assert RandomGenerator(100, "bytes", 1)[0:100] == RandomGenerator(100, "bytes", 1)[0:100]
    assert RandomGenerator(100, "bytes", 1)[0:100] != RandomGenerator(100, "bytes", 2)[0:100]


@pytest.mark.parametrize("datatype", sorted(DATATYPES))
def test_random_generator_stays_in_its_alphabet(datatype):
    data = RandomGenerator(4096, datatype, 3)[0:4096]
    assert set(data) <= set(DATATYPES[datatype])


def test_punctuation_includes_space_as_the_docs_table_says():
    assert b" " in DATATYPES["punctuation"]


def test_huge_generator_is_cheap_to_make_and_slice():
    gen = RandomGenerator(1024 ** 4, "ascii", 9)
    assert len(gen) == 1024 ** 4
    assert len(gen[1024 ** 4 - 10:1024 ** 4]) == 10


def test_random_generator_rejects_unknown_type_and_non_slices():
    with pytest.raises(ValueError):
        RandomGenerator(1, "nope", 0)
    with pytest.raises(TypeError):
        RandomGenerator(10, "bytes", 0)[3]
    with pytest.raises(ValueError):
        RandomGenerator(10, "bytes", 0)[0:10:2]


def test_file_generator_reads_slices_and_blocks(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(bytes(range(256)) * 10)
    gen = FileGenerator(str(path))
    assert len(gen) == 2560
    assert gen[250:260] == bytes(range(250, 256)) + bytes(range(4))
    assert b"".join(iter_blocks(gen, 5, 2000, blocksize=100)) == path.read_bytes()[5:2000]


def test_file_generator_reports_a_file_that_shrank(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    gen = FileGenerator(str(path))
    path.write_bytes(b"x" * 10)
    with pytest.raises(RenderError):
        gen[0:100]
    with pytest.raises(RenderError):
        list(iter_blocks(gen, 0, 100, 7))


def test_masked_source_transforms_with_offsets():
    source = MaskedSource(b"abcdef", lambda data, offset: bytes([offset]) + data[1:])
    assert len(source) == 6
    assert source[2:5] == b"\x02de"


def test_iter_blocks_splits_bytes_and_clamps_to_length():
    assert list(iter_blocks(b"abcdefg", 1, 100, blocksize=3)) == [b"bcd", b"efg"]
    assert source_bytes(b"xyz") == b"xyz"


def test_generators_describe_themselves(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    assert repr(RandomGenerator(5, "ascii", 1)) == "RandomGenerator(5, 'ascii', seed=1)"
    assert repr(FileGenerator(str(tmp_path / "f"))).startswith("FileGenerator(")
