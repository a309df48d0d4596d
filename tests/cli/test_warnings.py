"""Library warnings stay off the terminal unless --verbose; they go to the log file."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from pesbench.cli.main import main
from pesbench.settings import override_settings


@pytest.fixture
def noisy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """`pesbench models` whose library warns, as jobflow and CHGNet do during a demo."""

    def known_model_ids() -> list[str]:
        warnings.warn("cd is deprecated (library noise)", FutureWarning, stacklevel=1)
        return []

    monkeypatch.setattr("pesbench.cli.models.known_model_ids", known_model_ids)
    with override_settings(data_dir=tmp_path):
        yield tmp_path / "logs" / "warnings.log"
    logging.captureWarnings(False)
    logger = logging.getLogger("py.warnings")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = True


def test_warnings_go_to_the_log_not_the_terminal(
    noisy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the default filters, as outside pytest (which records warnings itself)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        with pytest.raises(SystemExit, match="0"):
            main(["models"])
    err = capsys.readouterr().err
    assert "library noise" not in err
    assert "FutureWarning" not in err
    assert "library noise" in noisy.read_text()


def test_verbose_leaves_them_to_python(noisy: Path) -> None:
    with pytest.warns(FutureWarning, match="library noise"), pytest.raises(SystemExit):
        main(["models", "--verbose"])  # shown the usual way (here: recorded by pytest)
    assert not noisy.exists()
