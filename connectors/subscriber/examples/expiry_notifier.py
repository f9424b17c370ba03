"""The market regulator's licence expiry notifier: a subscriber a department would really run.

市场监督管理局 subscribes to the licence office's standardized licences
(``std.licence.licence``, 有条件: the licence office approves the request) and, for every
licence that expires within the window or has expired while still valid, prints one notice
line for its caseworkers: licence type and number, expiry, days left, the holder's kind and
masked name. It reads desensitized data and prints no citizen ID, pseudonym or clear name.

Built on the kit alone: ``subscriber_app`` (the department's principal over SASL_SSL),
``ConfluentAvroCodec`` (the topic's Confluent-framed Avro) and a faust ``Record`` made from the
licence row schema the registry holds. Each licence is noticed once per expiry date; a
department keeps that memory itself (here in the process; a real one in its own database).

Run it as the department would, with the bus's connection settings (``GOVBUS_KAFKA_BOOTSTRAP``,
``GOVBUS_REGISTRY_URL``, ``GOVBUS_KAFKA_CA_FILE``, ``GOVBUS_KAFKA_USER=consumer-market`` and
``GOVBUS_KAFKA_PASSWORD``, or an access folder holding its password)::

    python -m connectors.subscriber.examples.expiry_notifier
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import faust

from connectors.subscriber.app import department_registry, subscriber_app
from connectors.subscriber.codec import ConfluentAvroCodec
from connectors.subscriber.records import row_record_class
from ops.settings import Settings, get_settings
from topics.subscriptions import CITY_TIME

DEPT: Final = "market"
TOPIC: Final = "std.licence.licence"
NAME: Final = "expiry-notifier"
WINDOW_DAYS: Final = 30
CANCELLED: Final = "注销"


@dataclass(frozen=True, slots=True)
class Notice:
    licence_type: str
    licence_no: str
    holder_kind: str
    holder_name: str  # masked by the bus (张*明)
    expiry: dt.date
    days_left: int

    def line(self) -> str:
        when = (f"expires in {self.days_left} days" if self.days_left >= 0
                else f"expired {-self.days_left} days ago")
        return (f"notice: licence {self.licence_type} {self.licence_no} {when} "
                f"({self.expiry.isoformat()}), holder {self.holder_kind} {self.holder_name}")


@dataclass
class ExpiryNotifier:
    """The per-record logic: which licences deserve a notice, each once per expiry date."""

    window_days: int = WINDOW_DAYS
    noticed: set[tuple[str, str]] = field(default_factory=set)

    def notice(self, licence: Any, today: dt.date) -> Notice | None:
        """``licence``: a licence row (the Record, or anything with its attributes)."""
        expiry = _date(getattr(licence, "expiry_date", None))
        if expiry is None or getattr(licence, "status", None) == CANCELLED:
            return None
        days_left = (expiry - today).days
        if days_left > self.window_days:
            return None
        seen = (str(licence.licence_id), expiry.isoformat())
        if seen in self.noticed:
            return None
        self.noticed.add(seen)
        return Notice(licence.licence_type or "?", licence.licence_no or "?",
                      licence.holder_kind or "?", licence.holder_name_masked or "-",
                      expiry, days_left)


def licence_of(event: Mapping[str, Any], record: type[faust.Record]) -> faust.Record | None:
    """The licence a change event carries now (a deletion carries none)."""
    if event.get("op") == "d" or event.get("after") is None:
        return None
    return record.from_data(event["after"])


def build(settings: Settings, say: Callable[[str], None] = print,
          today: Callable[[], dt.date] = lambda: dt.datetime.now(CITY_TIME).date()
          ) -> faust.App:
    """The notifier's faust app as the market department; its agent ``say``s each notice."""
    app = subscriber_app(settings, DEPT, NAME)
    registry = department_registry(settings, DEPT)
    topic_name = settings.topic_namespace + TOPIC
    licence_record = row_record_class(json.loads(registry.latest(f"{topic_name}-value")))
    topic = app.topic(topic_name, key_serializer="raw",
                      value_serializer=ConfluentAvroCodec(registry.schema_by_id))
    notifier = ExpiryNotifier()

    @app.agent(topic)
    async def notify(events: Any) -> None:
        async for event in events:
            licence = licence_of(event, licence_record)
            made = notifier.notice(licence, today()) if licence is not None else None
            if made is not None:
                say(made.line())

    return app


def main() -> None:
    """The faust worker, as the department, until interrupted; notices on stdout, faust's
    own warnings on stderr."""
    app = build(get_settings(), lambda line: print(line, flush=True))
    faust.Worker(app, loglevel="warn", redirect_stdouts=False).execute_from_commandline()


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


if __name__ == "__main__":
    main()
