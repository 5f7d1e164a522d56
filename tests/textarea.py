"""Text as a person types it into a length-limited textarea, and as the browser then sends it.

A textarea's `maxlength` counts a line break as one character, but the browser submits each one as CR LF,
two characters: a text typed in paragraphs right up to the page's limit arrives longer than the limit."""


def typed_in_paragraphs(length: int) -> str:
    """`length` characters as the page counts them, in lines of about a hundred."""
    text = "\n".join(["y" * 99] * ((length - 1) // 100))
    text += "z" * (length - len(text))
    assert len(text) == length and "\n" in text
    return text


def as_the_browser_sends(typed: str) -> str:
    return typed.replace("\n", "\r\n")
