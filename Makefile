# Each target calls a plain script that also works without make.
.PHONY: env test demo

env:
	sh scripts/env.sh

test: env
	sh scripts/test.sh

demo: env
	sh scripts/demo.sh
