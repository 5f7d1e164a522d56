"""Django's `{# ... #}` comment ends on its own line: one spanning lines is shown to the reader as text."""

import re

from apn_portal.tests.settings_env import PROJECT_DIR

UNCLOSED_COMMENT = re.compile(r"\{#(?!.*#\}).*$", re.MULTILINE)


def test_no_template_comment_spans_lines():
    templates = [
        path
        for path in PROJECT_DIR.rglob("templates/**/*.html")
        if ".venv" not in path.parts and "staticfiles" not in path.parts
    ]
    assert templates
    unclosed = [
        f"{path.relative_to(PROJECT_DIR)}:{text[: match.start()].count(chr(10)) + 1}"
        for path in templates
        for text in [path.read_text()]
        for match in UNCLOSED_COMMENT.finditer(text)
    ]
    assert unclosed == []
