"""The files for running the dashboard as a service say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from dashboard.settings import setting_names

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_the_example_environment_file_names_every_setting() -> None:
    example = (DEPLOY / "dashboard.env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z_]+)=", example, re.MULTILINE))
    assert named == setting_names() | {"DASHBOARD_CONFIG"}


def test_the_service_runs_hardened_as_its_own_user_and_restarts() -> None:
    unit = (DEPLOY / "synapse-dashboard.service").read_text()
    lines = set(unit.splitlines())
    assert {
        "User=dashboard",
        "EnvironmentFile=/etc/synapse-dashboard/dashboard.env",
        "Restart=on-failure",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/synapse-dashboard",
        "NoNewPrivileges=yes",
    } <= lines
    assert (
        "ExecStart=/opt/synapse-dashboard/bin/dashboard serve --host 127.0.0.1 --port 8000" in lines
    )


def test_the_readme_documents_every_setting_and_no_other() -> None:
    readme = (DEPLOY.parent / "README.md").read_text()
    table = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    documented = {
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z_]+)`", row.split("|")[1])
    }
    assert documented == setting_names() | {"DASHBOARD_CONFIG"}
