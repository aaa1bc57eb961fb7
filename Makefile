# Shortcuts for tasks.py, for those who have make; tasks.py needs only Python 3.11+.
.PHONY: run test bench
run:
	python3 tasks.py run
test:
	python3 tasks.py test
bench:
	python3 tasks.py bench
