"""The PBXs from a TOML file: what it gives, and every mistake named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.extension_ranges import parse_ranges
from dashboard.pbx_config import ConfigError, ConfigFile, PBXConfig, read_config
from dashboard.settings import Settings, SettingsError, setting_names

NAMES = {"DASHBOARD_EXTENSIONS", "DASHBOARD_BLOCKED_PREFIXES", "DASHBOARD_ALERT_SOUND"}

TWO_SITES = """\
# two offices
DASHBOARD_BLOCKED_PREFIXES = ["00", "+1900"]
DASHBOARD_ALERT_SOUND = true

[[pbx]]
name = "head-office"
url = "http://192.168.1.51/"
extensions = "40-42, 70"
timezone = "Asia/Kolkata"
event_token = "a-long-secret"
event_allow = ["192.168.1.51"]

[[pbx]]
name = "Branch"
url = "https://pbx.branch.example:8443"
host = "10.2.0.5"
context = "from-internal"
channel_template = "PJSIP/{extension}"
extensions = ["50-51"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dashboard.toml"
    path.write_text(text)
    return path


def test_a_file_describes_each_pbx_and_other_settings(tmp_path: Path) -> None:
    assert read_config(write(tmp_path, TWO_SITES), NAMES) == ConfigFile(
        settings={"DASHBOARD_BLOCKED_PREFIXES": "00,+1900", "DASHBOARD_ALERT_SOUND": "on"},
        pbxs=(
            PBXConfig(
                name="head-office",
                url="http://192.168.1.51",
                host="192.168.1.51",
                timezone="Asia/Kolkata",
                extensions=("40", "41", "42", "70"),
                event_token="a-long-secret",
                event_allow=("192.168.1.51",),
            ),
            PBXConfig(
                name="Branch",
                url="https://pbx.branch.example:8443",
                host="10.2.0.5",  # (hosts are read in lower case)
                context="from-internal",
                channel_template="PJSIP/{extension}",
                extensions=("50", "51"),
            ),
        ),
    )


def test_one_pbx_may_own_every_extension(tmp_path: Path) -> None:
    config = read_config(write(tmp_path, '[[pbx]]\nname = "only"\nurl = "http://pbx"\n'), NAMES)
    assert config.pbxs == (PBXConfig(name="only", url="http://pbx", host="pbx"),)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("timezone = ", "zone = "), ":9: unknown key 'zone' in [[pbx]] (known: name, url,"),
        (('extensions = ["50-51"]', 'extensions = "51-50"'), ":19: extensions: '51-50' is not a"),
        (('extensions = ["50-51"]', 'extensions = "42-45"'), ":19: extension 42 is already owned"),
        (('name = "Branch"', 'name = "Head-Office"'), ":14: name 'head-office' is already that"),
        (('host = "10.2.0.5"', 'host = "192.168.1.51"'), ":16: host '192.168.1.51' is already"),
        (("DASHBOARD_ALERT_SOUND", "DASHBOARD_ALERT_SOUNDS"), ":3: unknown setting 'DASHBOARD_"),
        (('url = "https://pbx.branch', 'url = "ftp://pbx.branch'), ":15: url: 'ftp://pbx.branch"),
        (('"Asia/Kolkata"', '"Asia/Nowhere"'), ":9: timezone: unknown time zone 'Asia/Nowhere'"),
        (('"PJSIP/{extension}"', '"PJSIP/{ext}"'), ":18: channel_template: it must hold"),
        (('["192.168.1.51"]', '["192.168.1.510"]'), ":11: event_allow: '192.168.1.510' is not"),
        (('name = "Branch"\n', ""), ":13: a [[pbx]] needs a name"),
        (('extensions = ["50-51"]\n', ""), ":13: with several PBXs, say which extensions 'Branch'"),
        (("extensions = ", "extensions = 4 #"), ":8: extensions must be a string or a list of"),
        (
            ('context = "from-internal"', 'event_token = "a-long-secret"'),
            ":17: event_token is also",
        ),
        (('host = "10.2.0.5"', 'host = "999.1.1.1"'), ":16: host: '999.1.1.1' is no host name"),
    ],
)
def test_a_mistake_stops_start_up_naming_its_line(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    old, new = edit
    assert old in TWO_SITES
    path = write(tmp_path, TWO_SITES.replace(old, new, 1))
    with pytest.raises(ConfigError) as refused:
        read_config(path, NAMES)
    assert str(refused.value).startswith(f"{path}{message}"), str(refused.value)


def test_a_file_that_is_not_toml_is_named_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[[pbx]]\nname = "a"\nurl = http://pbx\n')
    with pytest.raises(ConfigError) as refused:
        read_config(path, NAMES)
    assert str(refused.value) == f"{path}: Invalid value (at line 3, column 7)"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        read_config(tmp_path / "nope.toml", NAMES)
    assert str(refused.value) == (
        f"DASHBOARD_CONFIG: cannot read {tmp_path / 'nope.toml'}: No such file or directory"
    )


def test_extension_ranges() -> None:
    assert parse_ranges(" 40-42, 70,41 , ") == ("40", "41", "42", "70")
    for bad in ("4x", "50-40", "1-20000", "-5", "40-"):
        with pytest.raises(ValueError):
            parse_ranges(bad)


def test_settings_come_from_the_file_and_the_environment_overrides_it(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_SITES)
    settings = Settings.from_env(
        {"DASHBOARD_CONFIG": str(path), "DASHBOARD_ALERT_SOUND": "off"}, env_file=tmp_path / "x"
    )
    assert (settings.blocked_prefixes, settings.alert_sound) == (("00", "+1900"), False)
    assert [(pbx.name, pbx.host) for pbx in settings.pbxs] == [
        ("head-office", "192.168.1.51"),
        ("Branch", "10.2.0.5"),
    ]
    assert settings.config_path == str(path)
    assert settings.synapse_timezone == "Asia/Kolkata"  # the board's days: the first PBX's
    told = Settings.from_env(
        {"DASHBOARD_CONFIG": str(path), "SYNAPSE_TIMEZONE": "Europe/London"},
        env_file=tmp_path / "x",
    )
    assert told.synapse_timezone == "Europe/London"


def test_without_a_file_the_synapse_variables_describe_one_pbx(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "SYNAPSE_URL": "http://192.168.1.51",
            "SYNAPSE_TIMEZONE": "Asia/Kolkata",
            "SYNAPSE_EVENT_TOKEN": "secret",
        },
        env_file=tmp_path / "x",
    )
    assert settings.pbxs == (
        PBXConfig(
            name="synapse",
            url="http://192.168.1.51",
            host="192.168.1.51",
            timezone="Asia/Kolkata",
            event_token="secret",
        ),
    )


def test_a_bad_file_stops_start_up(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_SITES.replace("DASHBOARD_ALERT_SOUND", "DASHBOARD_ALERT_SOUNDS"))
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"DASHBOARD_CONFIG": str(path)}, env_file=tmp_path / "x")
    assert str(refused.value).startswith(f"{path}:3: unknown setting 'DASHBOARD_ALERT_SOUNDS'")


def test_every_setting_read_from_the_environment_may_be_in_the_file() -> None:
    names = setting_names()
    assert {"SYNAPSE_URL", "DASHBOARD_BLOCKED_PREFIXES", "DASHBOARD_ALLOW_UNKNOWN_HOSTS"} <= names
    assert "DASHBOARD_CONFIG" not in names


def test_the_readme_example_is_a_good_file(tmp_path: Path) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    config = read_config(write(tmp_path, example), setting_names())
    assert [(pbx.name, pbx.host, pbx.extensions[0]) for pbx in config.pbxs] == [
        ("head-office", "192.168.1.51", "40"),
        ("branch", "10.2.0.5", "80"),
    ]
    assert config.settings == {"DASHBOARD_BLOCKED_PREFIXES": "00,+1900"}
