"""Benchmarks and their baselines: the code behind ``govbus bench ...``.

On the top floor so it may drive every wing (publishers, stages, sink) and so nothing the
bus runs in production imports it.
"""
