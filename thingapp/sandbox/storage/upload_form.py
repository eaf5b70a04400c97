"""Reading an S3-style upload form (POST Object) as it streams in, never holding the file in
memory.

The form must be exactly the expected fields, in order, then one part named `file`, last. The field
values are handed to a check once the file part begins (so a wrong form is refused before any file
byte is stored); the file part goes straight to disk, and the upload stops as soon as it grows past
the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

# Every issued field is short; anything longer is not one of them.
MAX_FIELD_BYTES = 8 * 1024
FILE_PART = "file"
FORM_ORDER_HINT = "send every field of `fields`, in the issued order, then the file last"


class FormRefused(Exception):
    """Storage refuses the form: an S3 error code, a sentence, and extra XML elements if any."""

    def __init__(self, code: str, message: str, **details: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def invalid(message: str) -> FormRefused:
    """The refusal for a form that is not the one issued."""
    return FormRefused("InvalidArgument", message)


def too_large(max_bytes: int) -> FormRefused:
    """The refusal for a file past the size limit."""
    return FormRefused(
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size.",
        MaxSizeAllowed=str(max_bytes),
    )


class _PartEvents:
    """python-multipart's callbacks, queued as events to act on (awaiting) after each chunk."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes | dict[bytes, bytes] | None]] = []
        self._headers: dict[bytes, bytes] = {}
        self._header_name = b""
        self._header_value = b""

    def take(self) -> list[tuple[str, bytes | dict[bytes, bytes] | None]]:
        events, self.events = self.events, []
        return events

    def on_part_begin(self) -> None:
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        self.events.append(("part", self._headers))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.events.append(("data", data[start:end]))

    def on_part_end(self) -> None:
        self.events.append(("end", None))


def _part_name(headers: dict[bytes, bytes]) -> str:
    _, options = parse_options_header(headers.get(b"content-disposition", b""))
    name = options.get(b"name")
    if name is None:
        raise invalid("Every part of the form needs a Content-Disposition with a name.")
    return name.decode("utf-8", "replace")


def _part_filename(headers: dict[bytes, bytes]) -> str:
    _, options = parse_options_header(headers.get(b"content-disposition", b""))
    return options.get(b"filename", b"").decode("utf-8", "replace")


async def read_upload_form(
    request: Request,
    field_names: Sequence[str],
    accept_fields: Callable[[list[tuple[str, str]], str], Path],
    max_file_bytes: int,
) -> int:
    """Read the form; store its file where `accept_fields` says; return the file's size.

    `accept_fields` gets the fields as sent, in order, and the file part's filename (empty when
    it names none), and raises `FormRefused` for values that are not the issued ones. The file is
    written to a `.part` file beside the target and renamed onto it only once the whole form has
    arrived and checked out.
    """
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise invalid("Bucket POST must be of the enclosure-type multipart/form-data.")

    events = _PartEvents()
    parser = MultipartParser(boundary, {
        "on_part_begin": events.on_part_begin,
        "on_header_field": events.on_header_field,
        "on_header_value": events.on_header_value,
        "on_header_end": events.on_header_end,
        "on_headers_finished": events.on_headers_finished,
        "on_part_data": events.on_part_data,
        "on_part_end": events.on_part_end,
    })
    fields: list[tuple[str, str]] = []
    parts_seen = 0
    name = ""
    value = bytearray()
    target: Path | None = None
    out: anyio.AsyncFile[bytes] | None = None
    size = 0
    file_done = False
    stored = False
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except FormParserError as error:
                raise FormRefused(
                    "MalformedPOSTRequest",
                    "The body of your POST request is not well-formed multipart/form-data.",
                ) from error
            for event, payload in events.take():
                if event == "part":
                    assert isinstance(payload, dict)
                    name = _part_name(payload)
                    _check_part_order(field_names, parts_seen, name, file_done)
                    parts_seen += 1
                    if name == FILE_PART:
                        target = accept_fields(fields, _part_filename(payload))
                        out = await anyio.open_file(_partial(target), "wb")
                    else:
                        value = bytearray()
                elif event == "data":
                    assert isinstance(payload, bytes)
                    if out is not None:
                        size += len(payload)
                        if size > max_file_bytes:
                            raise too_large(max_file_bytes)
                        await out.write(payload)
                    else:
                        value += payload
                        if len(value) > MAX_FIELD_BYTES:
                            raise invalid(f"The form field {name} is longer than any issued value.")
                elif out is not None:  # the end of the file part
                    await out.aclose()
                    out, file_done = None, True
                else:  # the end of a field
                    fields.append((name, value.decode("utf-8", "replace")))
        try:
            parser.finalize()
        except FormParserError as error:
            raise FormRefused(
                "MalformedPOSTRequest",
                "The body of your POST request is not well-formed multipart/form-data.",
            ) from error
        if not file_done or target is None:
            if len(fields) < len(field_names):
                raise invalid(
                    f"The form field {field_names[len(fields)]} is missing: {FORM_ORDER_HINT}."
                )
            raise invalid("POST requires exactly one file upload per request.")
        _partial(target).replace(target)
        stored = True
        return size
    finally:
        if out is not None:
            await out.aclose()
        if target is not None and not stored:
            _partial(target).unlink(missing_ok=True)


def _check_part_order(field_names: Sequence[str], index: int, name: str, file_done: bool) -> None:
    if file_done:
        raise invalid(f"The file must be the last part of the form, but {name} came after it.")
    if index < len(field_names) and name != field_names[index]:
        expected = field_names[index]
        if name == FILE_PART:
            raise invalid(f"The file came before the form field {expected}: {FORM_ORDER_HINT}.")
        raise invalid(
            f"Part {index + 1} of the form must be the field {expected}, not {name}: "
            f"{FORM_ORDER_HINT}."
        )
    if index == len(field_names) and name != FILE_PART:
        raise invalid(f"After the issued fields the form must end with the file, not {name}.")


def _partial(target: Path) -> Path:
    return target.with_name(target.name + ".part")
