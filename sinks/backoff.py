"""Exponential backoff between retries of an unavailable service."""

from __future__ import annotations


class ExponentialBackoff:
    """Delays ``initial, initial*factor, ...`` capped at ``maximum``; ``reset`` on success."""

    def __init__(self, initial: float = 0.5, factor: float = 2.0, maximum: float = 30.0) -> None:
        if initial <= 0 or factor < 1 or maximum < initial:
            raise ValueError("need 0 < initial <= maximum and factor >= 1")
        self.initial = initial
        self.factor = factor
        self.maximum = maximum
        self._next = initial
        self.failures = 0

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self._next = self.initial
        self.failures = 0
