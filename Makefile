.PHONY: demo test test-slow test-ui soak bench clean test-matrix constraints

# The main job: example DAG end to end (emulator by default, Gemini when GEMINI_API_KEY is set).
demo:
	bash scripts/demo.sh

# The test suite (what CI runs). Installs everything it needs into .venv.
test:
	bash scripts/test.sh

# Browser tests of the Airflow UI (connection form, a deferred task page): installs chromium (apt) and
# Playwright (venv) if missing, starts airflow standalone + the emulator itself; screenshots in ui-artefacts/.
test-ui:
	bash scripts/test-ui.sh
# Every supported Airflow minor x its lowest and highest Python, each in a fresh venv from its committed
# constraints file: example DAGs on the emulator + the fast test subset; the table goes to
# docs/compatibility.md. ROWS="airflow-3.0-py3.10 ..." runs some rows; MATRIX_ARGS=--full the whole suite.
test-matrix:
	python3 scripts/test_matrix.py $(MATRIX_ARGS) $(ROWS)

# Re-resolve constraints/airflow-*.txt (as of each Airflow release) after a dependency change.
constraints:
	python3 scripts/gen_constraints.py $(ROWS)

# Long soak, large-file and scale runs, kept out of `make test`.
test-slow:
	bash scripts/test.sh -m slow

# The full soak alone: 200 jobs through the operator and trigger with 26% of calls failing.
soak:
	GB_SOAK_REPORT=soak-report.json bash scripts/test.sh tests/airflow/test_soak.py -m slow -s

# Benchmarks against the emulator, each beside its baseline from the same run (about 15 minutes).
bench:
	bash -c 'source scripts/bootstrap.sh && python benchmarks/run.py $(BENCH_ARGS)'

clean:
	rm -rf .venv demo_output .matrix
