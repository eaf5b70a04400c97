"""The api side of uploading a file to a Thing, both ways Thingiverse has.

The three-step flow (what the upload guide describes; its finalize is marked deprecated):

1. `POST /things/{id}/files` `{"filename": "x.stl"}` (owner only) answers the storage form to
   post: `{"action": "{public_url}/storage-upload", "fields": {...}}`, fields in the order
   `storage.UPLOAD_FIELD_NAMES`, with an S3-style policy (base64 JSON) signed by the world's
   secret (HMAC-SHA1, base64), as S3's signature version 2 POST policies are.
2. The client posts that form to storage (`storage.receive_upload`).
3. `POST /files/{file_id}/finalize` (owner only) turns the received bytes into a file of the Thing
   and answers its file object; only now is it listed, counted and served.

The current pair (the published OpenAPI description's `UploadFile` and `FinalizeFiles`):
1. `POST /files/0/uploadFile`, multipart with one part `file`, to the API itself: `{"id": N}`,
   a pending upload of the token's user.
2. `POST /files/0/FinalizeFiles` `{"pending_uploads": [{"id", "rank"}], "target_id",
   "target_type": "thing"}` (owner of the target only): each pending upload becomes a file of the
   Thing, or one of its images when it is a picture (PNG, JPEG, GIF). `{"ok": "ok"}`.

`SandboxConfig.upload_flow` offers both (`both`), or only one (`new`, `legacy`): the routes of the
other answer 404, as an API that dropped them would. Every finalized file carries its MD5 in
`hash`: hex for the seeded (older) files, base64 for uploads (newer ones), as Thingiverse does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import unicodedata
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from thingapp.sandbox.api.endpoints import (
    ApiError,
    check_owner,
    id_param,
    json_body,
    not_found,
    thing_id_param,
)
from thingapp.sandbox.context import SandboxContext
from thingapp.sandbox.storage.files import UPLOAD_FIELD_NAMES
from thingapp.sandbox.storage.upload_form import FormRefused, read_upload_form
from thingapp.sandbox.world.objects import file_date, file_object, image_summary, now_iso
from thingapp.sandbox.world.state import Grant, PendingFile, PendingUpload, StoredFile

ACCESS_KEY_ID = "AKIASANDBOXUPLOADS00"
BUCKET = "thingiverse-sandbox-uploads"
MAX_FILENAME_LENGTH = 255


IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif"})


async def start_upload(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """POST /things/{id}/files: the storage form for uploading one file to the user's Thing."""
    check_flow(context, "legacy")
    world = context.world
    thing_id = thing_id_param(request, context)
    check_owner(world, thing_id, grant)
    filename = _check_filename((await json_body(request)).get("filename"))
    file_id = world.new_file_id()
    public_url = context.config.public_url
    key = f"uploads/{secrets.token_hex(8)}/{filename}"
    redirect = f"{public_url}/files/{file_id}/finalize"
    content_type = "application/octet-stream"
    disposition = 'attachment; filename="{}"'.format(filename.replace('"', '\\"'))
    policy_document = {
        "conditions": [
            {"bucket": BUCKET},
            {"key": key},
            {"acl": "public-read"},
            {"success_action_redirect": redirect},
            {"Content-Type": content_type},
            {"Content-Disposition": disposition},
            ["content-length-range", 0, context.config.max_upload_bytes],
        ]
    }
    policy = base64.b64encode(json.dumps(policy_document).encode()).decode()
    digest = hmac.new(world.upload_secret, policy.encode(), hashlib.sha1).digest()
    values = (
        ACCESS_KEY_ID,
        BUCKET,
        key,
        "public-read",
        redirect,
        policy,
        base64.b64encode(digest).decode(),
        content_type,
        disposition,
    )
    fields = dict(zip(UPLOAD_FIELD_NAMES, values, strict=True))
    world.pending_uploads[file_id] = PendingUpload(file_id, thing_id, filename, fields)
    return JSONResponse({"action": f"{public_url}/storage-upload", "fields": fields})


def _check_filename(filename: object) -> str:
    if not isinstance(filename, str) or not filename.strip():
        raise ApiError(400, "The filename is required and must not be blank.")
    if (
        "/" in filename
        or "\\" in filename
        or filename in (".", "..")
        or any(unicodedata.category(c) == "Cc" for c in filename)
    ):
        raise ApiError(400, "The filename must be a plain file name, without folders.")
    if len(filename) > MAX_FILENAME_LENGTH:
        raise ApiError(400, f"The filename must be at most {MAX_FILENAME_LENGTH} characters.")
    return filename


async def finalize_upload(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """POST /files/{file_id}/finalize: the uploaded file becomes the Thing's; its file object."""
    check_flow(context, "legacy")
    world = context.world
    file_id = id_param(request)
    pending = world.pending_uploads.get(file_id)
    finalized = world.files.get(file_id)
    if finalized is not None:
        check_owner(world, finalized.thing_id, grant)
        raise ApiError(400, "This file has already been finalized.")
    if pending is None:
        raise not_found()
    check_owner(world, pending.thing_id, grant)
    if pending.received is None:
        raise ApiError(400, "Storage has not received this file's bytes yet: post the form first.")
    del world.pending_uploads[file_id]
    if _is_image(pending.filename):  # the ObjectFile or Image that was created
        return JSONResponse(_add_image(context, file_id, pending.thing_id, pending.filename,
                                       pending.received))
    return JSONResponse(_add_file(context, file_id, pending.thing_id, pending.filename,
                                  pending.received, pending.size))


def _is_image(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in IMAGE_EXTENSIONS


def _add_image(context: SandboxContext, image_id: int, thing_id: int, name: str,
               path: Path) -> dict[str, Any]:
    """Make received bytes one of the Thing's images; its summary."""
    data = image_summary(image_id=image_id, name=name, date=now_iso(),
                         public_url=context.config.public_url)
    context.world.images[image_id] = StoredFile(thing_id, data, path)
    return data


def _add_file(context: SandboxContext, file_id: int, thing_id: int, name: str, path: Path,
              size: int) -> dict[str, Any]:
    """Make received bytes a file of the Thing; its file object."""
    md5 = _md5_base64(path)
    if context.world.corrupt_uploads > 0:  # scripted: storage kept other bytes than were sent
        context.world.corrupt_uploads -= 1
        md5 = base64.b64encode(hashlib.md5(b"not what was sent").digest()).decode()
    data = file_object(file_id=file_id, name=name, size=size, date=file_date(now_iso()),
                       public_url=context.config.public_url, downloads=0, md5=md5)
    context.world.files[file_id] = StoredFile(thing_id, data, path)
    context.world.things[thing_id]["file_count"] += 1
    return data


def _md5_base64(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as data:
        for chunk in iter(lambda: data.read(1024 * 1024), b""):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


def check_flow(context: SandboxContext, flow: str) -> None:
    """404 for the routes of an upload flow this sandbox was started without."""
    if context.config.upload_flow not in ("both", flow):
        raise not_found()


async def upload_file(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """POST /files/0/uploadFile: the `file` part, streamed to the blob store, pending until
    `FinalizeFiles`; `{"id": pending id}`."""
    check_flow(context, "new")
    if request.path_params["id"] != "0":
        raise not_found()
    world = context.world
    pending_id = world.new_file_id()
    names: list[str] = []

    def accept(fields: list[tuple[str, str]], filename: str) -> Path:
        names.append(_check_filename(filename))
        return world.blobs.path_for(str(pending_id))

    try:
        size = await read_upload_form(request, (), accept, context.config.max_upload_bytes)
    except FormRefused as refused:
        raise ApiError(413 if refused.code == "EntityTooLarge" else 400,
                       refused.message) from None
    world.pending_files[pending_id] = PendingFile(pending_id, grant.user_id, names[0],
                                                  world.blobs.path_for(str(pending_id)), size)
    return JSONResponse({"id": pending_id})


async def finalize_files(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """POST /files/0/FinalizeFiles: the user's pending uploads become the target Thing's files
    (pictures: its images), in rank order."""
    check_flow(context, "new")
    if request.path_params["id"] != "0":
        raise not_found()
    world = context.world
    body = await json_body(request)
    uploads, target = body.get("pending_uploads"), body.get("target_id")
    if body.get("target_type") != "thing":
        raise ApiError(400, "target_type must be thing.")
    if not isinstance(target, int) or isinstance(target, bool) or target not in world.things:
        raise ApiError(404, "Not Found")
    check_owner(world, target, grant)
    if not isinstance(uploads, list) or not uploads:
        raise ApiError(400, "pending_uploads must list the uploads to finalize.")
    chosen: list[tuple[int, PendingFile]] = []
    for item in uploads:
        pending_id = item.get("id") if isinstance(item, dict) else None
        rank = item.get("rank", 0) if isinstance(item, dict) else None
        pending = world.pending_files.get(pending_id) if isinstance(pending_id, int) else None
        if pending is None or pending.user_id != grant.user_id or not isinstance(rank, int):
            raise ApiError(400, f"{pending_id!r} is not a pending upload of yours.")
        chosen.append((rank, pending))
    for _, pending in sorted(chosen, key=lambda pair: pair[0]):
        del world.pending_files[pending.pending_id]
        if _is_image(pending.filename):
            _add_image(context, pending.pending_id, target, pending.filename, pending.path)
        else:
            _add_file(context, pending.pending_id, target, pending.filename, pending.path,
                      pending.size)
    return JSONResponse({"ok": "ok"})
