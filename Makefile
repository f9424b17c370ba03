# The two quick-start commands (see README): `make demo` and `make test`.
.PHONY: demo test lint bootstrap lock stack-down

bootstrap:
	@ops/bootstrap.sh

# Refreshes uv.lock to the newest versions pyproject.toml allows; commit it only after
# `make test` passes with it.
lock: bootstrap
	.venv/bin/uv lock --upgrade
	@ops/bootstrap.sh

demo: bootstrap
	.venv/bin/govbus demo

test: bootstrap
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/python -m pytest --durations=15

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/mypy

stack-down:
	.venv/bin/govbus stack down
