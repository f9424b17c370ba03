"""Working days (工作日) as China's State Council publishes them each year: weekends off,
statutory holidays off, and the weekend days moved to be worked (调休) on.

The calendar comes from the ``chinesecalendar`` package, which carries each year once the
State Council has published it (in the preceding autumn). For a year it does not carry yet,
Monday to Friday are counted: a due date then falls no later than the published calendar
would put it, except around holidays, and the package's next release corrects it.
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar


def is_working_day(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the package does not carry yet
        return day.weekday() < 5


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The day ``days`` working days after ``start`` (the start day itself not counted)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day, left = start, days
    while left:
        day += dt.timedelta(days=1)
        left -= is_working_day(day)
    return day
