"""The processors: a batch of consumed messages in, encoded outputs and dead letters out.
They fuse the stages over plain messages (decode once, encode once), so tests and benchmarks
drive them without a broker."""
