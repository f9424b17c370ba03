"""The mainland China numbering plan as libphonenumber's metadata states it.

One source of truth for what a CN mobile or landline looks like: the rules stage validates
against these patterns and the department simulator draws only numbers they accept, so the
two can never disagree. The metadata follows the numbering plan published to the ITU; it
leaves out ranges without voice service, such as China Telecom's 149 data-card segment.
"""

from __future__ import annotations

import re
from typing import Final

from phonenumbers import PhoneMetadata


def _cn_pattern(kind: str) -> re.Pattern[str]:
    metadata = PhoneMetadata.metadata_for_region("CN")
    description = getattr(metadata, kind, None)
    pattern = getattr(description, "national_number_pattern", None)
    if not isinstance(pattern, str):
        raise RuntimeError(f"phonenumbers has no CN {kind} pattern")
    return re.compile(pattern)


MOBILE_PATTERN: Final = _cn_pattern("mobile")
FIXED_LINE_PATTERN: Final = _cn_pattern("fixed_line")


def is_cn_mobile(national: str) -> bool:
    """True for an 11-digit national number in an allocated mobile range."""
    return len(national) == 11 and MOBILE_PATTERN.fullmatch(national) is not None
