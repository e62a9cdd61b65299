"""Server-Sent Events framing (the WHATWG event-stream format) for follow():
lines in, frames out. Only what the chatjournal feed sends is kept: id,
event, data (lines joined by "\\n"); comments (": ping") and retry: are
dropped."""


class Frame:
    __slots__ = ("id", "event", "data")

    def __init__(self, id, event, data):
        self.id, self.event, self.data = id, event, data

    def __repr__(self):
        return f"Frame(id={self.id!r}, event={self.event!r}, data={self.data!r})"


class Parser:
    """Feed it decoded lines (with or without their line ending); feed()
    returns the Frame a blank line completes, else None. A frame without
    data is not dispatched (as the format says)."""

    def __init__(self):
        self._reset()

    def _reset(self):
        self.id, self.event, self.data = None, None, []

    def feed(self, line):
        line = line.rstrip("\r\n")
        if not line:
            frame = None
            if self.data:
                frame = Frame(self.id, self.event or "message", "\n".join(self.data))
            self._reset()
            return frame
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self.data.append(value)
        elif name == "event":
            self.event = value
        elif name == "id" and "\0" not in value:
            self.id = value
        return None
