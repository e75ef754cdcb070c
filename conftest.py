"""Test tiers: each test carries a marker for what makes it slow or for what it needs.

The markers are listed in pyproject.toml (``[tool.pytest.ini_options] markers``). ``make test`` runs
the fast tier, the tests without any of them; ``make test-all`` runs everything. Most markers are set
here, from what a test is or uses, so that a new test gets them without anyone remembering:

* ``notebook``: every nbval cell of ``notebooks/*.ipynb``; notebooks 01-04 also get ``real_data``;
* ``real_data``: every test that uses the ``real_data`` fixture (tests/conftest.py), directly or
  through another fixture;
* ``network``: every test that uses the ``pypi`` fixture (tests/test_requirements.py);
* ``slow``: the tests of tests/test_train.py named in :data:`SLOW_TESTS`.

Otherwise ``browser`` and ``slow`` are set in the test files themselves (``@pytest.mark.slow``,
``pytestmark``), as is ``real_data`` where a test looks for FER2013 without the fixture
(tests/test_student.py).
"""
from __future__ import annotations

import re

import pytest

#: Notebooks that load the real FER2013 (as in notebooks/conftest.py).
NOTEBOOKS_WITH_DATA = re.compile(r"^0[1-4]_.*\.ipynb$")

#: Fixture name -> the marker a test using it gets.
FIXTURE_MARKERS = {"real_data": "real_data", "pypi": "network"}

#: Slow tests (5-22 s each on a 2-core AMD EPYC, see CONTRIBUTING.md) of a file that was being rewritten
#: when the tiers were introduced; they belong in it as ``@pytest.mark.slow`` once it is free. All but one
#: of its training runs: ``test_train_plateau_writes_everything`` stays in the fast tier, its one end-to-end
#: training run.
SLOW_TESTS = {
    "tests/test_train.py": {
        "test_bf16_trains_in_mixed_precision_and_leaves_the_global_policy_alone",
        "test_class_weights",
        "test_cli_train_recipe_with_options_over_it",
        "test_cli_train_with_teachers",
        "test_distillation_trains_on_the_mixed_targets_and_caches_them",
        "test_ema_validates_and_saves_the_averaged_weights",
        "test_explicit_default_strategy",
        "test_fine_tuning_from_another_network_fails_clearly_and_keeps_the_run",
        "test_fine_tuning_starts_from_the_given_weights",
        "test_interrupted_run_resumes",
        "test_recalibrate_batchnorm_reaches_the_networks_inside_tta_and_ensembles",
        "test_recalibrate_batchnorm_stores_the_inference_statistics",
        "test_recipes_are_fixed_work_and_recognised_from_a_run_config",
        "test_rerun_of_a_finished_run_starts_afresh",
        "test_seed_architecture_trains",
        "test_ship_class_run_refuses_an_unfinished_or_other_run",
        "test_time_budget_stops_after_first_epoch",
        "test_train_cosine_warms_up_and_decays",
        "test_train_with_mixup_feeds_the_blends",
    },
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = getattr(item, "path", None)
        if path is not None and path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
            if NOTEBOOKS_WITH_DATA.match(path.name):
                item.add_marker(pytest.mark.real_data)
        for fixture in getattr(item, "fixturenames", ()):
            if fixture in FIXTURE_MARKERS:
                item.add_marker(FIXTURE_MARKERS[fixture])
        if path is not None and getattr(item, "originalname", None) in SLOW_TESTS.get(_relative(path, config), ()):
            item.add_marker(pytest.mark.slow)


def _relative(path, config: pytest.Config) -> str:
    """``tests/test_x.py`` for a file under the root folder, else its full path."""
    try:
        return path.relative_to(config.rootpath).as_posix()
    except ValueError:
        return str(path)
