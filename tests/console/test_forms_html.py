"""What a browser would post for a rendered form: every successful control of the form with
the given id, as its HTML says (no JavaScript; rows inside <template> are not part of it)."""

from __future__ import annotations

from html.parser import HTMLParser


class _Form(HTMLParser):
    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.depth_template = 0
        self.data: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
            return
        if not self.inside:
            return
        if tag == "template":
            self.depth_template += 1
        if self.depth_template:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.data.append((name, a.get("value") or "on"))
            elif kind not in ("submit", "button", "file"):
                self.data.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select, self._select_options = name, []
        elif tag == "option" and self._select is not None:
            self._select_options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag == "form" and not self.depth_template:
            self.inside = False
        elif tag == "template":
            self.depth_template -= 1
        elif tag == "select" and self._select is not None:
            chosen = [v for v, sel in self._select_options if sel] or [
                v for v, _ in self._select_options[:1]
            ]
            self.data.extend((self._select, v) for v in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = self._text[1:] if self._text.startswith("\n") else self._text
            self.data.append((self._textarea, text.replace("\r\n", "\n")))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None and not self.depth_template:
            self._text += data


def form_data(html: str, form_id: str = "object-form") -> dict[str, str]:
    parser = _Form(form_id)
    parser.feed(html)
    assert parser.data, f"no form #{form_id} with fields in the page"
    return dict(parser.data)
