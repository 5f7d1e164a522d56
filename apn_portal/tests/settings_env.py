"""What the settings module reads from the environment, found by parsing apn_portal/settings.py.

Tests compare it with docker-compose.yml and the README, so a setting added in one place and forgotten in
the others shows up as a failing test rather than as a production surprise.
"""

import ast
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
SETTINGS_FILE = PROJECT_DIR / "apn_portal" / "settings.py"
# For subprocesses: only what a process needs to start, so every setting comes from the test, none from
# the caller's shell.
BASE_ENV = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "LC_ALL") if key in os.environ}


def _name_of(call: ast.Call) -> str | None:
    func = call.func
    reads_env = (
        # env("X"), env.bool("X"), env.list("X"), env.db("X") ... (django-environ), and env_list("X")
        (isinstance(func, ast.Name) and func.id in ("env", "env_list"))
        or (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env")
        # os.getenv("X"), os.environ.get("X")
        or (isinstance(func, ast.Attribute) and func.attr == "getenv")
        or (
            isinstance(func, ast.Attribute) and func.attr == "get" and ast.unparse(func.value) == "os.environ"
        )
    )
    if not reads_env or not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def settings_env_names() -> set[str]:
    tree = ast.parse(SETTINGS_FILE.read_text())
    names = {_name_of(node) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    names.discard(None)
    return names
