"""The storage host (an S3 stand-in): serves file bytes to anyone holding the URL, like a CDN, and
takes upload forms (S3's POST Object) at `/storage-upload`.

Like S3, it refuses a request that also carries an `Authorization` header: a client that follows
the API's download redirect, or posts the upload form, while still sending its Bearer token fails
here, as it would for real. Errors are S3's XML: `<Error><Code>...</Code><Message>...</Message>`.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from thingapp.sandbox.context import context_of
from thingapp.sandbox.http import s3_error, storage_url
from thingapp.sandbox.storage.upload_form import FormRefused, invalid, read_upload_form, too_large

TWO_AUTH_MECHANISMS = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
    "Signature query string parameter or the Authorization header should be specified"
)
# The storage form fields `POST /things/{id}/files` issues, in the order it issues them.
UPLOAD_FIELD_NAMES = (
    "AWSAccessKeyId",
    "bucket",
    "key",
    "acl",
    "success_action_redirect",
    "policy",
    "signature",
    "Content-Type",
    "Content-Disposition",
)
# Room for the issued fields around the file, when judging a Content-Length before reading.
FORM_ALLOWANCE_BYTES = 64 * 1024


async def serve_file(request: Request) -> Response:
    """GET /storage/{file_id}/{name}: the file's bytes, only without an Authorization header."""
    if "authorization" in request.headers:
        return s3_error(400, "InvalidArgument", TWO_AUTH_MECHANISMS)
    world = context_of(request).world
    file_id = request.path_params["file_id"]
    stored = world.files.get(int(file_id)) if file_id.isdigit() else None
    if stored is None or stored.data["name"] != request.path_params["name"]:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
    if isinstance(stored.content, Path):
        return FileResponse(stored.content, media_type="application/octet-stream")
    return Response(stored.content, media_type="application/octet-stream")


async def serve_image(request: Request) -> Response:
    """GET /storage/images/{image_id}/{name}: a Thing image's bytes."""
    stored = context_of(request).world.images.get(request.path_params["image_id"])
    if stored is None or stored.data["name"] != request.path_params["name"]:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
    assert isinstance(stored.content, Path)
    kind = stored.data["name"].rsplit(".", 1)[-1].lower().replace("jpg", "jpeg")
    return FileResponse(stored.content, media_type=f"image/{kind}")


async def public_download(request: Request) -> Response:
    """GET /download:{id}: the site's public download link (a file's `public_url`) -> storage."""
    context = context_of(request)
    file_id: int = request.path_params["file_id"]
    stored = context.world.files.get(file_id)
    if stored is None:
        return Response("There is no such file in the sandbox.", 404, media_type="text/plain")
    url = storage_url(context.config.public_url, file_id, stored.data["name"])
    return RedirectResponse(url, status_code=302)


async def receive_upload(request: Request) -> Response:
    """POST /storage-upload: an upload form as issued by `POST /things/{id}/files`.

    The form must carry every issued field with exactly the issued value, in the issued order,
    then the `file` part last; the file may be at most `max_upload_bytes`. It streams to the
    world's blob store. Success is 303 to `success_action_redirect`, or 200 with an empty body
    when the sandbox is configured so; the file is listed on its Thing only once finalized.
    """
    if "authorization" in request.headers:
        return s3_error(400, "InvalidArgument", TWO_AUTH_MECHANISMS)
    context = context_of(request)
    world, max_bytes = context.world, context.config.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + FORM_ALLOWANCE_BYTES:
        return _refusal(too_large(max_bytes))

    issued_to: list[int] = []

    def accept_fields(fields: list[tuple[str, str]], filename: str) -> Path:
        pending = world.pending_upload_with_key(dict(fields)["key"])
        if pending is None:
            raise invalid("The key is not one issued for a pending upload.")
        for name, value in fields:
            if value != pending.fields[name]:
                raise invalid(f"The form field {name} is not the value issued for this upload.")
        issued_to.append(pending.file_id)
        return world.blobs.path_for(str(pending.file_id))

    try:
        size = await read_upload_form(request, UPLOAD_FIELD_NAMES, accept_fields, max_bytes)
    except FormRefused as refused:
        return _refusal(refused)
    stored_at = world.blobs.path_for(str(issued_to[0]))
    pending = world.pending_uploads.get(issued_to[0])
    if pending is None:  # the Thing was deleted while its file was on the way
        stored_at.unlink(missing_ok=True)
        return s3_error(404, "NoSuchUpload", "The upload was withdrawn while it was sent.")
    pending.received, pending.size = stored_at, size
    if context.config.storage_success_status == 200:
        return Response(b"", status_code=200)
    return RedirectResponse(pending.fields["success_action_redirect"], status_code=303)


def _refusal(refused: FormRefused) -> Response:
    return s3_error(400, refused.code, refused.message, **refused.details)
