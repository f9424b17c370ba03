"""The one consumer runtime every layer runs on: the raw and theme stages and the sink.

- ``messages``: a consumed message as plain Python;
- ``client_config``: the consumer and producer configurations, and nothing else decides them;
- ``kafka_output``: a producer whose outputs are tracked per input batch;
- ``loop``: the consume-process-acknowledge-commit loop (its contract is its docstring);
- ``producing``: the acknowledgement of a step whose results go to Kafka;
- ``gc_policy``: the interpreter's garbage-collector schedule for long-running loops;
- ``unused_libraries``: installed libraries a long-running process keeps from loading;
- ``allocator``: the C allocator's policy for long-running processes.

A layer keeps only its processing step; everything about Kafka consumption is here.
"""
