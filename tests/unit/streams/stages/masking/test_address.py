import pytest

from streams.stages.masking.address import generalize_address
from topics.codes.divisions import division_table

TABLE = division_table()


def test_division_code_gives_the_table_name() -> None:
    assert generalize_address("建国路88号", "340104", TABLE) == "安徽省合肥市蜀山区"
    assert generalize_address("建国路88号", "110105", TABLE) == "北京市朝阳区"
    assert generalize_address("建国路88号", "110100", TABLE) == "北京市"  # 市辖区 grouping row


@pytest.mark.parametrize(
    ("address", "district"),
    [
        ("北京市朝阳区建国路88号", "北京市朝阳区"),
        ("浙江省杭州市西湖区文三路1号", "浙江省杭州市西湖区"),
        ("新疆维吾尔自治区乌鲁木齐市天山区解放路", "新疆维吾尔自治区乌鲁木齐市天山区"),
        ("湘西土家族苗族自治州吉首市人民路", "湘西土家族苗族自治州吉首市"),
        ("义乌市稠州路1号", "义乌市"),
        ("朝阳区建国路8号楼市场", "朝阳区"),
        ("人民路88号超市", None),
        ("建国路88号", None),
    ],
)
def test_text_is_cut_after_its_administrative_names(address: str, district: str | None) -> None:
    assert generalize_address(address, None, TABLE) == district
    assert generalize_address(address, "999999", TABLE) == district  # unknown code: text


def test_never_longer_than_the_district_for_every_current_division() -> None:
    for division in TABLE:
        if not division.is_current or division.name == "市辖区":
            continue
        full = division.full_name
        result = generalize_address(full + "人民路88号3栋", None, TABLE)
        assert result is None or full.startswith(result), (full, result)
