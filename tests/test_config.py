"""config.py: precedence, .env handling, credential checks and secret hiding."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from batchpay import emulator
from batchpay.cli.exits import exit_code_for
from batchpay.config import Secret, load_settings, redact
from batchpay.errors import ConfigError

SECRET = "SK-live-abc123$HOME-XYZ"
CLIENT = "MCH-0001-10791114622547"


def _sandbox_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHPAY_ENV", "sandbox")
    monkeypatch.setenv("BATCHPAY_CLIENT_ID", CLIENT)
    monkeypatch.setenv("BATCHPAY_SECRET_KEY", SECRET)


def test_load_settings_nothing_configured_defaults_to_builtin_emulator(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path)
    assert settings.env == "emulator"
    assert settings.base_url is None
    assert settings.uses_builtin_emulator
    assert settings.client_id == emulator.EMULATOR_CLIENT_ID
    assert settings.secret_key.reveal() == emulator.EMULATOR_SECRET_KEY
    assert settings.payout_link_signature == "snap-hmac-sha512"
    assert settings.timeout == (5.0, 30.0)


def test_load_settings_home_set_puts_ledger_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHPAY_HOME", str(tmp_path / "data"))
    settings = load_settings(cwd=tmp_path)
    assert settings.home == tmp_path / "data"
    assert settings.ledger_path == tmp_path / "data" / "ledger.sqlite"


def test_load_settings_no_home_defaults_to_xdg_data_dir(tmp_path: Path) -> None:
    settings = load_settings(environ={"HOME": str(tmp_path)}, cwd=tmp_path)
    assert settings.home == Path.home() / ".local/share/batchpay"


def test_load_settings_sandbox_from_environment_uses_sandbox_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sandbox_env(monkeypatch)
    settings = load_settings(cwd=tmp_path)
    assert settings.env == "sandbox"
    assert settings.url == "https://api-sandbox.doku.com"
    assert settings.client_id == CLIENT
    assert settings.secret_key.reveal() == SECRET


def test_load_settings_production_env_option_uses_production_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sandbox_env(monkeypatch)
    assert load_settings(env="production", cwd=tmp_path).url == "https://api.doku.com"


def test_load_settings_dotenv_in_cwd_is_read_without_touching_os_environ(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text(
        f"BATCHPAY_ENV=sandbox\nBATCHPAY_CLIENT_ID={CLIENT}\nBATCHPAY_SECRET_KEY={SECRET}\n"
    )
    settings = load_settings(cwd=tmp_path)
    assert settings.env == "sandbox"
    # interpolate=False: "$HOME" inside the secret is kept literally.
    assert settings.secret_key.reveal() == SECRET
    assert "BATCHPAY_SECRET_KEY" not in os.environ


def test_load_settings_environment_beats_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        f"BATCHPAY_ENV=sandbox\nBATCHPAY_CLIENT_ID=MCH-FROM-DOTENV\nBATCHPAY_SECRET_KEY={SECRET}\n"
    )
    monkeypatch.setenv("BATCHPAY_CLIENT_ID", CLIENT)
    assert load_settings(cwd=tmp_path).client_id == CLIENT


def test_load_settings_options_beat_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sandbox_env(monkeypatch)
    monkeypatch.setenv("BATCHPAY_LEDGER", str(tmp_path / "env.sqlite"))
    settings = load_settings(
        env="emulator",
        base_url="http://127.0.0.1:9999",
        ledger=tmp_path / "opt.sqlite",
        cwd=tmp_path,
    )
    assert (settings.env, settings.base_url) == ("emulator", "http://127.0.0.1:9999")
    assert settings.ledger_path == tmp_path / "opt.sqlite"


def test_load_settings_explicit_dotenv_path_is_used(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "prod.env"
    path.parent.mkdir()
    path.write_text("BATCHPAY_PAYOUT_LINK_SIGNATURE=hmac-sha256\n")
    assert load_settings(dotenv_path=path, cwd=tmp_path).payout_link_signature == "hmac-sha256"


def test_load_settings_missing_dotenv_path_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(dotenv_path=tmp_path / "nope.env", cwd=tmp_path)


@pytest.mark.parametrize("env", ["sandbox", "production"])
def test_load_settings_missing_credentials_names_both_and_how(tmp_path: Path, env: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env, cwd=tmp_path)
    text = str(info.value)
    assert "BATCHPAY_CLIENT_ID and BATCHPAY_SECRET_KEY are not set" in text
    assert ".env" in text and "\n" not in text
    assert exit_code_for(info.value) == 3


def test_load_settings_missing_secret_only_names_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHPAY_CLIENT_ID", CLIENT)
    with pytest.raises(ConfigError, match=r"^BATCHPAY_SECRET_KEY is not set"):
        load_settings(env="sandbox", cwd=tmp_path)


def test_load_settings_require_credentials_false_allows_missing(tmp_path: Path) -> None:
    settings = load_settings(env="production", require_credentials=False, cwd=tmp_path)
    assert settings.client_id == "" and not settings.secret_key


@pytest.mark.parametrize(
    "bad", [" SK-with-space", "SK-line\nbreak", "'SK-quoted'", "SK-ümlaut-x", "SK-1"]
)
def test_load_settings_malformed_secret_raises_without_echoing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    _sandbox_env(monkeypatch)
    monkeypatch.setenv("BATCHPAY_SECRET_KEY", bad)
    with pytest.raises(ConfigError, match="BATCHPAY_SECRET_KEY is malformed") as info:
        load_settings(cwd=tmp_path)
    assert bad.strip("' ") not in str(info.value)


def test_load_settings_malformed_client_id_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sandbox_env(monkeypatch)
    monkeypatch.setenv("BATCHPAY_CLIENT_ID", "MCH 0001")
    with pytest.raises(ConfigError, match="BATCHPAY_CLIENT_ID is malformed"):
        load_settings(cwd=tmp_path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BATCHPAY_ENV", "prod"),
        ("BATCHPAY_PAYOUT_LINK_SIGNATURE", "md5"),
        ("BATCHPAY_CONNECT_TIMEOUT", "soon"),
        ("BATCHPAY_READ_TIMEOUT", "0"),
        ("BATCHPAY_READ_TIMEOUT", "nan"),
        ("BATCHPAY_BASE_URL", "ftp://example.com"),
        ("BATCHPAY_BASE_URL", "http://127.0.0.1:8765/v1"),
    ],
)
def test_load_settings_malformed_value_raises_config_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings(cwd=tmp_path)


def test_load_settings_plain_http_for_production_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sandbox_env(monkeypatch)
    with pytest.raises(ConfigError, match="plain http"):
        load_settings(env="production", base_url="http://doku.example.com", cwd=tmp_path)


def test_load_settings_plain_http_loopback_allowed_for_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sandbox_env(monkeypatch)
    settings = load_settings(base_url="http://127.0.0.1:8765/", cwd=tmp_path)
    assert settings.url == "http://127.0.0.1:8765"


def test_load_settings_timeouts_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHPAY_CONNECT_TIMEOUT", "1.5")
    monkeypatch.setenv("BATCHPAY_READ_TIMEOUT", "12")
    assert load_settings(cwd=tmp_path).timeout == (1.5, 12.0)


def test_load_settings_emulator_with_base_url_uses_configured_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCHPAY_CLIENT_ID", CLIENT)
    settings = load_settings(base_url="http://127.0.0.1:8765", cwd=tmp_path)
    assert settings.client_id == CLIENT
    assert settings.secret_key.reveal() == emulator.EMULATOR_SECRET_KEY


# --- secrets never show -----------------------------------------------------------------------


def test_secret_repr_and_str_hide_value() -> None:
    secret = Secret(SECRET)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret:>5}", f"{secret!r}"):
        assert text == "Secret('********')"


def test_settings_repr_hides_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _sandbox_env(monkeypatch)
    settings = load_settings(cwd=tmp_path)
    assert SECRET not in repr(settings) and "Secret('********')" in repr(settings)


def test_secret_loaded_is_redacted_from_any_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sandbox_env(monkeypatch)
    load_settings(cwd=tmp_path)
    assert redact(f"boom: key={SECRET}.") == "boom: key=********."


def test_secret_pickle_refused() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(SECRET))


def test_secret_equality_compares_values() -> None:
    assert Secret("SK-same-value-1") == Secret("SK-same-value-1")
    assert Secret("SK-same-value-1") != Secret("SK-other-value-2")


def test_remember_secret_short_value_not_remembered() -> None:
    Secret("e")  # would otherwise turn every "e" in every message into ********
    assert redact("the message") == "the message"


@pytest.mark.parametrize(
    "url",
    [
        "http://ops:Pa55-hunter2@127.0.0.1:8765",
        "https://ops:Pa55-hunter2@api-sandbox.doku.com",
        "ops:Pa55-hunter2@127.0.0.1:8765",  # no scheme: the old message quoted it whole
        "http://Pa55-hunter2@127.0.0.1:8765",  # a user name only
    ],
)
@pytest.mark.parametrize("via", ["environment", "option"])
def test_load_settings_base_url_with_userinfo_refused_without_echoing_it(
    tmp_path: Path, url: str, via: str
) -> None:
    environ = {"BATCHPAY_BASE_URL": url} if via == "environment" else {}
    with pytest.raises(ConfigError) as info:
        load_settings(base_url=url if via == "option" else None, environ=environ, cwd=tmp_path)
    assert "contains a user name or password" in str(info.value)
    assert "BATCHPAY_CLIENT_ID / BATCHPAY_SECRET_KEY" in str(info.value)
    assert "Pa55-hunter2" not in str(info.value) and exit_code_for(info.value) == 3


def test_load_settings_base_url_unparsable_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a valid URL"):
        load_settings(base_url="http://[::1", environ={}, cwd=tmp_path)
