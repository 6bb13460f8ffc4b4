# Each target calls a plain script that also works without make.
.PHONY: env test test-all demo demo-multiclass

env:
	sh scripts/env.sh

# CI runs `make test`: everything but the tests marked slow (the long learning runs).
test: env
	sh scripts/test.sh -m "not slow"

# Every test, the slow ones (longer training runs, kills and resumes) too.
test-all: env
	sh scripts/test.sh

demo: env
	sh scripts/demo.sh

demo-multiclass: env
	sh scripts/demo.sh multiclass
