"""4360 enrichment: std rows -> facts (who/what a record states) -> merged theme profiles.

Pure logic, no Kafka: ``facts`` turns one std change event into fact records,
``profile`` folds facts into the state of one entity, ``theme`` renders that state as the
theme record (or None for a tombstone) and its conflict findings.
"""
