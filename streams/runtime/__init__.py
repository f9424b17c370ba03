"""The stages' place in the consumer runtime (``ops/runtime``): the workers, their state
stores backed by changelog topics, and their metrics."""
