"""The soak's growth figure: from minute 5 to the last, per process."""

from __future__ import annotations

import os

from govbus.bench.soak import Minute, SoakResult, rss_mb


def test_growth_is_measured_from_minute_five() -> None:
    result = SoakResult(1000.0, rss_mb={"raw": [100, 150, 190, 198, 200, 204, 210],
                                        "sink": [300, 310]})
    growth = result.growth()
    assert growth["raw"] == 0.05  # 200 MB at minute 5, 210 at the end
    assert growth["sink"] is None  # not yet past minute 5


def test_this_process_has_a_resident_size() -> None:
    assert rss_mb(os.getpid()) > 10


def test_a_minute_shows_its_median_and_its_peak() -> None:
    minute = Minute(3, {"sink": 651.4}, {"sink": 769.0}, {"raw": 0, "sink": 7871})
    assert minute.line() == "minute 3: sink 651 MB (peak 769); lag raw 0, sink 7,871"
