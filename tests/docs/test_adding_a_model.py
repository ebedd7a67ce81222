"""Runs the code of docs/adding_a_model.rst as a reader would, in order."""
import re
from pathlib import Path

import pytest

from pyg_mmrec import registry
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.ib import DVIB, IBMRec

PAGE = Path(__file__).resolve().parents[2] / 'docs' / 'adding_a_model.rst'


def code_blocks(text: str) -> list[str]:
    """The ``.. code-block:: python`` blocks of a reStructuredText page, dedented."""
    blocks = re.findall(r'^\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)', text, re.M)
    return ['\n'.join(line[3:] for line in block.splitlines()) for block in blocks]


@pytest.fixture
def clean_registry():
    before = dict(registry.MODELS)
    yield
    registry.MODELS.clear()
    registry.MODELS.update(before)


def test_the_worked_example_runs_and_the_plugins_take_it(clean_registry, capsys):
    blocks = code_blocks(PAGE.read_text())
    assert len(blocks) == 2
    namespace = {}
    for block in blocks:
        exec(compile(block, str(PAGE), 'exec'), namespace)
    model = namespace['ContentMF']
    assert registry.get_model_class('contentmf') is model
    printed = capsys.readouterr().out
    assert [line.split()[0] for line in printed.splitlines()] == ['contentmf', 'ibmrec', 'dvib']
    assert namespace['ibmrec']['config']['backbone'] == 'contentmf'
    # FIB applies, GIB does not (no item graph), as the page says; DVIB finds the content layer
    plugged = IBMRec.from_data(namespace['splits'].train, backbone='contentmf')
    assert plugged.uses_fib and not plugged.uses_gib
    assert [stage.name for stage in plugged.stages()] == ['infonce']
    dvib = DVIB.from_data(namespace['splits'].train, backbone='contentmf')
    assert dvib.hidden_dims == (32,)


def test_the_quoted_error_is_the_real_one():
    quoted = re.search(r"``(IBMRec needs a backbone.*?)``", ' '.join(PAGE.read_text().split()))
    with pytest.raises(ConfigError) as error:
        IBMRec.backbone_class('lightgcn')
    assert str(error.value).startswith(quoted.group(1))
