from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.settings import Settings, SettingsError


def test_settings_come_from_the_environment_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# comment\nDASHBOARD_DB=from-file.db\nSYNAPSE_CONTEXT='file-context'\n"
        "SYNAPSE_EVENT_ALLOW=10.0.0.0/8, 192.168.1.51\n"
    )
    settings = Settings.from_env(
        {
            "DASHBOARD_DB": "from-env.db",
            "SYNAPSE_URL": "http://192.168.1.51/",
            "SYNAPSE_TIMEZONE": "Asia/Kolkata",
            "DASHBOARD_FINISHED_LINGER": "3",
            "DASHBOARD_SIGNIN_NAME_FAILURES": "3",
            "DASHBOARD_SIGNIN_ADDRESS_FAILURES": "50",
            "DASHBOARD_SIGNIN_LOCK_MINUTES": "30",
            "DASHBOARD_CDR_SYNC_SECONDS": "7.5",
        },
        env_file=env_file,
    )
    assert settings.db_path == "from-env.db"
    assert settings.synapse_context == "file-context"
    assert settings.synapse_url == "http://192.168.1.51" and settings.synapse_host == "192.168.1.51"
    assert settings.synapse_event_allow == ("10.0.0.0/8", "192.168.1.51")
    assert settings.finished_linger_seconds == 3.0
    assert settings.cdr_sync_seconds == 7.5
    assert str(settings.timezone) == "Asia/Kolkata"
    limits = (
        settings.sign_in_name_failures,
        settings.sign_in_address_failures,
        settings.sign_in_lock_minutes,
    )
    assert limits == (3, 50, 30.0)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SYNAPSE_TIMEZONE": "Mars/Olympus"}, "SYNAPSE_TIMEZONE"),
        ({"DASHBOARD_FINISHED_LINGER": "soon"}, "DASHBOARD_FINISHED_LINGER"),
        ({"SYNAPSE_EVENT_ALLOW": "pbx.local"}, "SYNAPSE_EVENT_ALLOW"),
        ({"DASHBOARD_TRUSTED_PROXIES": "10.0.0.0/99"}, "DASHBOARD_TRUSTED_PROXIES"),
        ({"DASHBOARD_DB_SYNCHRONOUS": "SOMETIMES"}, "DASHBOARD_DB_SYNCHRONOUS"),
        *(
            ({"SYNAPSE_RECORDING_PREFIX": prefix}, "SYNAPSE_RECORDING_PREFIX")
            for prefix in (
                "callrecord/",
                "/callrecord",
                "/a//b/",
                "/../",
                "/a/./",
                "/re%63/",
                "/a b/",
            )
        ),
        ({"DASHBOARD_SIGNIN_NAME_FAILURES": "0"}, "DASHBOARD_SIGNIN_NAME_FAILURES"),
        ({"DASHBOARD_SIGNIN_NAME_FAILURES": "30"}, "<= DASHBOARD_SIGNIN_ADDRESS_FAILURES"),
        ({"DASHBOARD_SIGNIN_LOCK_MINUTES": "0"}, "DASHBOARD_SIGNIN_LOCK_MINUTES"),
        ({"DASHBOARD_CDR_SYNC_SECONDS": "0"}, "DASHBOARD_CDR_SYNC_SECONDS"),
        ({"DASHBOARD_TV_FRAME_SECONDS": "6"}, "DASHBOARD_TV_FRAME_SECONDS"),
        ({"DASHBOARD_TV_FRAME_SECONDS": "-1"}, "DASHBOARD_TV_FRAME_SECONDS"),
    ],
)
def test_bad_settings_are_refused_with_their_name(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ, env_file=tmp_path / "missing.env")


def test_a_wall_screen_gets_two_frames_a_second_unless_told(tmp_path: Path) -> None:
    missing = tmp_path / "missing.env"
    assert Settings.from_env({}, env_file=missing).tv_frame_seconds == 0.5
    told = Settings.from_env({"DASHBOARD_TV_FRAME_SECONDS": "0"}, env_file=missing)
    assert told.tv_frame_seconds == 0.0


def test_the_recording_folder_is_callrecord_unless_told(tmp_path: Path) -> None:
    missing = tmp_path / "missing.env"
    assert Settings.from_env({}, env_file=missing).recording_path_prefix == "/callrecord/"
    told = Settings.from_env({"SYNAPSE_RECORDING_PREFIX": " /rec/2015/ "}, env_file=missing)
    assert told.recording_path_prefix == "/rec/2015/"
    assert Settings(recording_path_prefix="/").recording_path_prefix == "/"


@pytest.mark.parametrize("template", ["SIP/{ext}", "SIP/70", "SIP/{extension}/{0}"])
def test_a_channel_template_without_the_extension_is_refused(template: str) -> None:
    with pytest.raises(SettingsError, match="SYNAPSE_CHANNEL_TEMPLATE"):
        Settings(synapse_channel_template=template)


@pytest.mark.parametrize(("value", "every_event"), [(None, False), ("on", True), ("off", False)])
def test_an_access_line_per_event_only_when_told(
    tmp_path: Path, value: str | None, every_event: bool
) -> None:
    environ = {"DASHBOARD_LOG_EVERY_EVENT": value} if value is not None else {}
    settings = Settings.from_env(environ, env_file=tmp_path / "missing.env")
    assert settings.log_every_event is every_event
