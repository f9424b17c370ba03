"""Pure stage logic: the national standards' rules, cleaning, masking, Debezium envelope
mapping, and the 4360 enrichment (facts, row tables, profiles). Plain Python over records; no
Kafka, no I/O."""
