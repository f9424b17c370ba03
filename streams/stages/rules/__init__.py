"""Validators and cleaners of the standardize stage, by the national standards.

Every check returns a typed result or a :class:`~streams.stages.rules.findings.RuleViolation`;
whether a violation rejects the event is a property of its reason code (``findings.py``).
"""
