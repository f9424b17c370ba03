"""Display masks for values that were validated and normalized by the rules stage."""

from __future__ import annotations


def mask_id_number(number: str) -> str:
    """Keep the division code (first 6) and the last 4: ``340104********123X``."""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_id_first6_last1(number: str) -> str:
    """Keep the division code and the check character: ``340104***********X``.

    Published beside a district, sex and birth year, these leave tens of thousands of
    candidates; the last four of :func:`mask_id_number` would leave a few dozen.
    """
    if len(number) <= 7:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 7) + number[-1]


def mask_id_division(number: str) -> str:
    """Keep the division code alone: ``340104************``.

    Record times bound a birth from above (a newborn's registration comes weeks after the
    birth), and joined on the pseudonym with another record's birth year they narrow it to
    weeks; without the check character such a row still leaves ~30,000 candidates.
    """
    if len(number) <= 6:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 6)


def mask_name(name: str) -> str:
    """Keep the first character, and the last one from three characters on: 张*, 张*明, 欧**娜."""
    length = len(name)
    if length <= 1:
        return "*"
    if length == 2:
        return name[0] + "*"
    return name[0] + "*" * (length - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """A national display form with the middle hidden: ``138****5678``, ``010****5678``.

    Takes the E.164 form the rules stage stores (``+86...``); mobiles and 400/800 lines keep
    their first 3 digits, landlines their trunk 0 and area code (2 digits for 10 and 2x,
    else 3); all keep the last 4.
    """
    national = phone[3:] if phone.startswith("+86") else phone.lstrip("0")
    if len(national) <= 4:
        return "*" * len(national)
    first = national[0]
    if (first == "1" and len(national) == 11) or national[:3] in ("400", "800"):
        shown = national[:3]
    else:
        shown = "0" + national[: 2 if first in "12" else 3]
        national = "0" + national
    return shown + "*" * (len(national) - len(shown) - 4) + national[-4:]


def year_month(iso_date: str) -> str:
    """An ISO date generalized to its month: ``1990-05``."""
    return iso_date[:7]


def birth_year(iso_date: str) -> str:
    """An ISO date generalized to its year: ``1990``."""
    return iso_date[:4]
