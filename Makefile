.PHONY: demo test test-slow clean

# The main job: example DAG end to end (emulator by default, Gemini when GEMINI_API_KEY is set).
demo:
	bash scripts/demo.sh

# The test suite (what CI runs). Installs everything it needs into .venv.
test:
	bash scripts/test.sh

# Long soak, large-file and scale runs, kept out of `make test`.
test-slow:
	bash scripts/test.sh -m slow

clean:
	rm -rf .venv demo_output
