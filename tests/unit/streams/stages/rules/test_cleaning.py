from hypothesis import given
from hypothesis import strategies as st

from streams.stages.rules.cleaning import NULL_LIKES, clean_code, clean_text, uppercase_code


def test_trims_without_reporting() -> None:
    assert clean_text("  张三\u3000") == ("张三", False)
    assert clean_text("\ufeffabc\u200b") == ("abc", False)
    assert clean_code(" 110105 \t") == ("110105", False)


def test_folds_full_width_in_codes() -> None:
    assert clean_code("１１０１０５１９４９１２３１００２ｘ") == ("11010519491231002x", True)
    assert clean_code("２０２１．０３．０４") == ("2021.03.04", True)


def test_keeps_chinese_in_codes() -> None:
    assert clean_code("2021年3月4日") == ("2021年3月4日", False)
    assert clean_code("男") == ("男", False)


def test_text_folds_letters_and_digits_but_keeps_chinese_punctuation() -> None:
    assert clean_text("朝阳区Ａ座３号，（东）") == ("朝阳区A座3号，（东）", True)
    assert clean_text("经营范围：软件开发；技术咨询。") == ("经营范围：软件开发；技术咨询。", False)


def test_null_likes() -> None:
    for spelling in ["", "null", "NULL", "Null", "无", "-", "/", "N/A", "n/a", " 无 ", "None"]:
        assert clean_text(spelling) == (None, False), spelling
        assert clean_code(spelling) == (None, False), spelling
    assert clean_text("无锡市")[0] == "无锡市"


def test_uppercase_code() -> None:
    assert uppercase_code("11010519491231002x") == ("11010519491231002X", True)
    assert uppercase_code("11010519491231002X") == ("11010519491231002X", False)
    assert uppercase_code("110105194912310021") == ("110105194912310021", False)


@given(st.text())
def test_cleaning_is_idempotent(value: str) -> None:
    for clean in (clean_text, clean_code):
        once, _ = clean(value)
        if once is not None:
            assert clean(once) == (once, False)


@given(st.text())
def test_code_cleaning_leaves_no_full_width_ascii(value: str) -> None:
    cleaned, _ = clean_code(value)
    if cleaned is not None:
        assert not any(0xFF01 <= ord(c) <= 0xFF5E for c in cleaned)
        assert cleaned.lower() not in NULL_LIKES


def test_every_unicode_space_is_trimmed() -> None:
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()] + ["\u200b", "\ufeff"]
    for space in spaces:
        assert clean_text(f"{space}张三{space}")[0] == "张三", hex(ord(space))
        assert clean_code(f"{space}110105{space}")[0] == "110105", hex(ord(space))
