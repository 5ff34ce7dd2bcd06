"""API credentials come from the environment or a private file outside the repository, and the
secret never shows: not in repr, str, f-strings, logs, config dumps, copies or pickles."""
from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import pickle
from pathlib import Path

import pytest

from tradecore.venues.credentials import (Credentials, CredentialsError, Secret, env_prefix,
                                          load_credentials)

KEY = "AKIAKEY1234567890abcdefWXYZ"
SECRET = "s3cr3t-VALUE-that-must-never-leak-42"


def creds() -> Credentials:
    return load_credentials("binance", {"TRADECORE_BINANCE_API_KEY": KEY,
                                        "TRADECORE_BINANCE_API_SECRET": SECRET})


def test_loads_key_and_secret_from_the_environment():
    c = creds()
    assert c.api_key == KEY and c.secret.reveal() == SECRET and c.source == "environment"


def test_env_prefix_is_upper_case_with_underscores():
    assert env_prefix("binance_usdm") == "TRADECORE_BINANCE_USDM_"
    assert env_prefix("binance-usdm") == "TRADECORE_BINANCE_USDM_"


def test_repr_str_and_fstrings_never_show_the_secret():
    c = creds()
    for text in (repr(c), str(c), f"{c}", f"{c!r}", f"{c.secret}", f"{c.secret!r}",
                 f"{c.secret:>40}", str(c.secret), "%s %r" % (c.secret, c.secret)):
        assert SECRET not in text
    assert KEY not in repr(c) and KEY[-4:] in repr(c)


def test_logging_never_shows_the_secret(caplog):
    c = creds()
    log = logging.getLogger("tradecore.test.credentials")
    # the handler on the logger itself: other tests may configure the tradecore loggers
    # (JSON output, propagation) and this must hold whatever they left
    log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG, logger=log.name):
            log.info("credentials %s %r", c, c)
            log.info("secret %s", c.secret)
            log.info("dict %s", {"creds": c, "secret": c.secret})
    finally:
        log.removeHandler(caplog.handler)
    assert caplog.records and SECRET not in caplog.text


def test_config_dump_never_shows_the_secret():
    c = creds()
    dumped = json.dumps(dataclasses.asdict(c), default=str)
    assert SECRET not in dumped and "***" in dumped
    assert SECRET not in json.dumps({"venue": {"binance": c}}, default=str)
    assert SECRET not in repr(vars(c) if hasattr(c, "__dict__") else dataclasses.asdict(c))


def test_copies_keep_the_secret_object_and_pickling_is_refused():
    c = creds()
    assert copy.deepcopy(c.secret) is c.secret and copy.copy(c.secret) is c.secret
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(c.secret)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(c)


def test_missing_half_of_the_pair_names_the_missing_variable():
    with pytest.raises(CredentialsError, match="TRADECORE_BINANCE_API_SECRET is not set"):
        load_credentials("binance", {"TRADECORE_BINANCE_API_KEY": KEY})


def test_no_credentials_names_the_variables_to_set():
    with pytest.raises(CredentialsError, match="TRADECORE_KRAKEN_API_KEY"):
        load_credentials("kraken", {})


def write(path: Path, data, mode: int = 0o600) -> Path:
    path.write_text(json.dumps(data))
    os.chmod(path, mode)
    return path


def test_loads_a_private_file_outside_the_repository(tmp_path):
    f = write(tmp_path / "binance.json", {"api_key": KEY, "api_secret": SECRET})
    c = load_credentials("binance", {"TRADECORE_BINANCE_CREDENTIALS_FILE": str(f)},
                         repo_root=tmp_path / "repo")
    assert c.secret.reveal() == SECRET and c.source == str(f)


def test_refuses_a_file_inside_the_repository(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    f = write(repo / "creds.json", {"api_key": KEY, "api_secret": SECRET})
    with pytest.raises(CredentialsError, match="inside the repository"):
        load_credentials("binance", {"TRADECORE_BINANCE_CREDENTIALS_FILE": str(f)},
                         repo_root=repo)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_refuses_a_file_others_can_read(tmp_path):
    f = write(tmp_path / "c.json", {"api_key": KEY, "api_secret": SECRET}, 0o644)
    with pytest.raises(CredentialsError, match="chmod 600"):
        load_credentials("binance", {"TRADECORE_BINANCE_CREDENTIALS_FILE": str(f)},
                         repo_root=tmp_path / "repo")


def test_unreadable_file_error_never_quotes_its_content(tmp_path):
    f = tmp_path / "c.json"
    f.write_text('{"api_key": "x", "api_secret": "' + SECRET + '"')    # broken JSON
    os.chmod(f, 0o600)
    with pytest.raises(CredentialsError) as e:
        load_credentials("binance", {"TRADECORE_BINANCE_CREDENTIALS_FILE": str(f)},
                         repo_root=tmp_path / "repo")
    assert SECRET not in str(e.value) and "not readable JSON" in str(e.value)


def test_file_without_both_fields_is_refused(tmp_path):
    f = write(tmp_path / "c.json", {"api_key": KEY})
    with pytest.raises(CredentialsError, match="api_secret missing"):
        load_credentials("binance", {"TRADECORE_BINANCE_CREDENTIALS_FILE": str(f)},
                         repo_root=tmp_path / "repo")


def test_secret_must_be_a_non_empty_string():
    with pytest.raises(CredentialsError):
        Secret("")
    with pytest.raises(CredentialsError):
        Credentials("binance", KEY, SECRET)          # a plain str is not accepted
