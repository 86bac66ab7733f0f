"""Free-text masking finds phone and ID numbers however they are typed, and leaves dates,
times and house numbers alone."""

from __future__ import annotations

import pytest

from gridmap.core.privacy import MASKED, disclosure_for, mask_address, mask_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("请联系13912345678", "请联系139****5678"),
        ("电话138-1234-5678", "电话138-****-5678"),
        ("电话 138 1234 5678。", "电话 138 **** 5678。"),
        ("138.1234.5678", "138.****.5678"),
        ("138－1234－5678", "138－****－5678"),
        ("138\u30001234\u30005678", "138\u3000****\u30005678"),
        ("+86 138 1234 5678", "+86 138 **** 5678"),
        ("+86-138-1234-5678", "+86-138-****-5678"),
        ("8613812345678", "86138****5678"),
        ("１３８１２３４５６７８", "１３８****５６７８"),
        ("13812345678 2人", "138****5678 2人"),
        ("身份证11010119900307123X", "身份证110***********123X"),
        ("身份证 110101 19900307 1234 谢谢", "身份证 110*** ******** 1234 谢谢"),
        ("110101-19900307-123x", "110***-********-123x"),
        ("1101 0119 9003 0712 34", "110* **** **** **12 34"),
        ("旧证 110101 900307 123", "旧证 110*** *****7 123"),
        ("座机 010-65123456", "座机 010-******56"),
    ],
)
def test_numbers_with_separators_are_masked(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22 13:45 到 2026-11-30 17:00",
        "12号楼2单元301室",
        "第3期 2026.11.22",
        "编号 123456",
        "金额 1,000,000 元",
    ],
)
def test_dates_times_and_house_numbers_are_left_alone(text):
    assert mask_text(text) == text


@pytest.mark.parametrize(
    ("role", "doors", "staff_names"),
    [
        ("chief", True, True),
        ("zone_leader", True, True),
        ("grid_worker", True, True),
        ("member", True, True),
        ("street_admin", False, True),
        ("auditor", False, True),
        ("system_admin", False, False),
        (None, False, False),
    ],
)
def test_doors_follow_duty_and_staff_names_are_read_by_staff(role, doors, staff_names):
    seen = disclosure_for(role)
    address = "东城区和平里街道和平里第1社区12号楼2单元301"
    assert seen.address(address) == (address if doors else mask_address(address))
    assert seen.door("301") == ("301" if doors else "***")
    assert seen.staff_name("张三") == ("张三" if staff_names else "张*")
    # Phone numbers are personal: masked for everyone, staff's too.
    entry = seen.staff_contact({"name": "张三", "phone": "13812345678", "role": "chief"})
    assert entry["phone"] == "138****5678" and entry["role"] == "chief"
    assert disclosure_for(None) == MASKED
