"""Warnings raised from our own code fail the test that raised them; other libraries' do not.

``pyproject.toml`` (``[tool.pytest.ini_options] filterwarnings``) turns every warning attributed
to a module of ``bot``, ``actions`` or ``channels`` into an error. Checked here with warnings
raised as from such modules, and from modules whose names only look alike.
"""

from __future__ import annotations

import warnings

import pytest


def warn_from(module: str, category: type[Warning]) -> None:
    """Raise ``category`` the way code in ``module`` would (the warning is attributed to the
    module whose code calls ``warnings.warn``)."""
    code = compile("warnings.warn('probe', category)", f"<{module}>", "exec")
    exec(code, {"__name__": module, "warnings": warnings, "category": category})  # noqa: S102


@pytest.mark.parametrize("module", ["bot", "bot.screening", "actions.consent",
                                    "channels.core.runtime"])
@pytest.mark.parametrize("category", [DeprecationWarning, UserWarning, RuntimeWarning])
def test_our_warnings_are_errors(module: str, category: type[Warning]) -> None:
    with pytest.raises(category, match="probe"):
        warn_from(module, category)


@pytest.mark.parametrize("module", ["rasa.core.agent", "botocore.client", "actionslib",
                                    "channels_extra"])
def test_other_libraries_warnings_stay_warnings(module: str) -> None:
    with warnings.catch_warnings(record=True) as caught:  # the filters as configured
        warn_from(module, DeprecationWarning)
    assert [str(w.message) for w in caught] == ["probe"]
