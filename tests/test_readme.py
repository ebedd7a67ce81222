"""The README's result tables are the ones the benchmark reports give."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def readme_tables():
    spec = importlib.util.spec_from_file_location('readme_tables',
                                                  ROOT / 'benchmarks' / 'readme_tables.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_are_fresh(readme_tables):
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    assert readme_tables.render(readme) == readme, (
        'README.md is stale: run python benchmarks/readme_tables.py')


def test_a_stale_table_is_rewritten(readme_tables):
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    stale = readme.replace('| amazon-baby | lightgcn | 0.0762', '| amazon-baby | lightgcn | 0.0999')
    assert stale != readme and readme_tables.render(stale) == readme
    with pytest.raises(KeyError, match="no markers for the tables \\['dvib'\\]"):
        readme_tables.render(readme.replace('<!-- results:dvib -->', ''))
