"""Every example in the package's docstrings runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import dejavu_lab

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(dejavu_lab.__path__, prefix="dejavu_lab.")
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _examples(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    found = doctest.DocTestFinder().find(module, name)
    return [test for test in found if test.examples]


def test_the_package_has_examples() -> None:
    # The walk must find the modules (and their examples), or the tests below pass vacuously.
    assert len(MODULES) > 100
    assert sum(len(_examples(name)) for name in MODULES) >= 20


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _examples(name):
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} examples failed in {name}"
