"""The errors of a desensitization policy that cannot be used."""

from __future__ import annotations


class PolicyError(ValueError):
    """The desensitization policy is incomplete or names something unknown."""


class DisclosureError(PolicyError):
    """Fields published together narrow an identifier below its grade's minimum."""
