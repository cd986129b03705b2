"""A function's process as the Lambda Python runtime runs it, without a container.

:mod:`stateway_runtime.worker` is the process itself (stdlib only: it runs on
the function's own interpreter, next to the function's packages), and
:mod:`stateway_runtime.process` drives one from outside. The local gateway runs
the functions through them, and so does :mod:`stateway_runtime.localstack_executor`,
a LocalStack runtime-executor plugin for machines with no Docker engine.
"""
