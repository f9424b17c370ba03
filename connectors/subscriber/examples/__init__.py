"""Subscriber apps a consuming department would run, built on the kit."""
