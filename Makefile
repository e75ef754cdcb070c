# Emojimation: `make lab` opens the course, `make test` runs the fast tests, `make test-all` every test,
# `make demo` runs the demo.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup lab test test-all screenshots demo reproduce reproduce-2h train-class train-full train-seed ship benchmark benchmark-frame clean-cache app student grade-demo grade slides lint-js site

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml  ## first: is the Python supported? (emolib/__init__.py says which)
	@$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) -W ignore -c "import sys, emolib; sys.exit(emolib.python_problem())"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lab: setup            ## open the course in JupyterLab
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

test: setup           ## the fast tier (a few minutes): unit tests on synthetic data, doctests, repository checks; no slow, notebook, browser, real-data or network test
	$(BIN)/python -m pytest -n 2 -m "not slow and not notebook and not browser and not real_data and not network"

test-all: setup       ## every test: the fast tier, slow unit tests, notebooks (nbval), browser tests, the real FER2013, PyPI (CI runs this)
	$(BIN)/python -m pytest -n 2

lint-js:              ## lint the widgets' JavaScript (emolib/static/*.js) with eslint (needs node and npm; installs eslint into node_modules/)
	test -x node_modules/.bin/eslint || npm ci --no-audit --no-fund
	npx --no-install eslint emolib/static

site: setup           ## the demo as a static web site run in the browser (nothing leaves the device) -> out/site/; needs npm (installs LiteRT.js into node_modules/)
	test -f node_modules/@litertjs/core/package.json || npm ci --no-audit --no-fund
	$(BIN)/python -m emolib site out/site

student: setup        ## the student version of every notebook (solutions replaced by stubs, through nbgrader) -> student/
	$(BIN)/python tools/make_student.py --out student

grade-demo: setup     ## nbgrader's whole loop (generate_assignment, two simulated submissions, autograde, feedback, grades.csv) -> out/grade-demo/; needs FER2013 (EMOLIB_DATA)
	$(BIN)/python tools/grade_demo.py --course out/grade-demo

grade: setup          ## autograde every submission of ASSIGNMENT in the nbgrader course COURSE in parallel on Dask, sandboxed (tools/grade.py; pip install -r deploy/requirements.txt, apt-get install bubblewrap): make grade COURSE=~/course ASSIGNMENT="01_exploring_fer2013 [more]" [GRADE_ARGS="--workers 8"]
	@test -n "$(COURSE)" -a -n "$(ASSIGNMENT)" || { echo "usage: make grade COURSE=<nbgrader course folder> ASSIGNMENT="<name> [<name> ...]" [GRADE_ARGS=...]"; exit 2; }
	$(BIN)/python tools/grade.py "$(COURSE)" $(ASSIGNMENT) $(GRADE_ARGS)

slides: setup         ## a lecture deck per notebook (reveal.js HTML through jupyter nbconvert --to slides) -> out/slides/
	$(BIN)/jupyter nbconvert --to slides --SlidesExporter.reveal_scroll=True --output-dir out/slides notebooks/0*.ipynb

screenshots: setup    ## refresh the README's demo screenshots (figures/demo_*.png) with the browser tests (notebook widget, app)
	EMOLIB_SCREENSHOTS=figures $(BIN)/python -m pytest tests/test_browser.py tests/test_app.py

demo: setup           ## annotate the shipped sample photos with the shipped model -> out/demo/ (git-ignored)
	$(BIN)/python -m emolib predict --samples --emoji --out out/demo

app: setup            ## the demo as a web page without code (Voila, http://127.0.0.1:8866): upload photos or use the webcam
	$(BIN)/python -m emolib app

reproduce: reproduce-2h  ## the shipped model from scratch in one command; today that is `make reproduce-2h` (a future distilled network changes this target, not reproduce-2h)

reproduce-2h: train-full ship  ## the two-hour recipe end to end: train (108-min budget), then `make ship`

train-class: setup    ## notebook 03's class recipe (15 epochs, emolib.train.RECIPES["class"]) -> runs/class
	$(BIN)/python -m emolib train --recipe class --threads 2 --log-epochs --out runs/class

train-full: setup     ## the shipped model's recipe (emolib.train.RECIPES["full"]: under 2 h on a 2-core CPU)
	$(BIN)/python -m emolib train --recipe full --threads 2 --log-epochs --out runs/emonet-full

train-seed: setup     ## the seed baseline, shortened (emolib.train.RECIPES["seed"]: 20 min)
	$(BIN)/python -m emolib train --recipe seed --threads 2 --log-epochs --out runs/seed

ship: setup           ## select the full run's weights on PublicTest, recalibrate BatchNorm if PublicTest says so, export them (with the test-time views that help within 5 ms per face) + card to emolib/assets/
	$(BIN)/python -m emolib ship run runs/emonet-full $(if $(wildcard runs/seed/result.json),--baseline runs/seed,) --replace

benchmark: setup      ## speed of every architecture on this machine
	$(BIN)/python benchmarks/benchmark_models.py

benchmark-frame: setup  ## end-to-end time per 640x480 webcam frame (detect + crop + classify + annotate)
	$(BIN)/python benchmarks/benchmark_frame.py

clean-cache: setup  ## delete the FER2013 array caches (your user cache folder, emolib.data.default_cache_dir(), and data/ where older versions wrote them) and the kept predictions of emolib.evaluate
	$(BIN)/python -c "from emolib.data import clear_cache; [print('removed', p) for p in clear_cache()]"
