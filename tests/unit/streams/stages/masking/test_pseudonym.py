import hashlib
import hmac

import pytest

from streams.stages.masking.pseudonym import (
    PSEUDONYM_HEX_LENGTH,
    PseudonymConfigError,
    Pseudonymizer,
    sm3_available,
)

ID = "11010519491231002X"
needs_sm3 = pytest.mark.skipif(not sm3_available(), reason="this OpenSSL has no SM3")


def test_shape_and_value() -> None:
    pseudonym = Pseudonymizer(b"key", "k1")(ID)
    expected = hmac.new(b"key", ID.encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_LENGTH]
    assert pseudonym == f"k1:{expected}"
    assert len(pseudonym) == len("k1:") + 32


def test_stable_per_key_and_different_across_keys() -> None:
    one = Pseudonymizer(b"key", "k1")
    assert one(ID) == one(ID) == Pseudonymizer(b"key", "k1")(ID)
    assert one(ID) != one("110105194912310021")
    assert one(ID).split(":")[1] != Pseudonymizer(b"other", "k1")(ID).split(":")[1]
    assert Pseudonymizer(b"key", "k2")(ID).startswith("k2:")


@needs_sm3
def test_sm3_official_vectors() -> None:
    # GB/T 32905-2016 Appendix A examples 1 and 2.
    assert hashlib.new("sm3", b"abc").hexdigest() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    assert hashlib.new("sm3", b"abcd" * 16).hexdigest() == (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


@needs_sm3
def test_hmac_sm3_follows_rfc2104() -> None:
    key = b"k" * 20
    inner_key = key.ljust(64, b"\0")  # SM3 block size is 64 bytes
    inner = hashlib.new("sm3", bytes(b ^ 0x36 for b in inner_key) + ID.encode()).digest()
    outer = hashlib.new("sm3", bytes(b ^ 0x5C for b in inner_key) + inner).hexdigest()
    assert Pseudonymizer(key, "k1", "sm3")(ID) == "k1:" + outer[:PSEUDONYM_HEX_LENGTH]


@pytest.mark.parametrize(
    ("key", "key_id", "algorithm"),
    [
        (b"", "k1", "sha256"),
        (b"key", "", "sha256"),
        (b"key", "a:b", "sha256"),
        (b"key", "k1", "md5"),
    ],
)
def test_bad_configuration_is_refused(key: bytes, key_id: str, algorithm: str) -> None:
    with pytest.raises(PseudonymConfigError):
        Pseudonymizer(key, key_id, algorithm)  # type: ignore[arg-type]



def test_the_key_is_given_never_read_from_settings() -> None:
    import ast
    import inspect

    from streams.stages.masking import pseudonym

    tree = ast.parse(inspect.getsource(pseudonym))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m and m.startswith("ops") for m in imported)
