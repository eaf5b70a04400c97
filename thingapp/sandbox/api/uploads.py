"""The api side of uploading a file to a Thing: announce it, then finalize it once storage has it.

1. `POST /things/{id}/files` `{"filename": "x.stl"}` (owner only) answers the storage form to
   post: `{"action": "{public_url}/storage-upload", "fields": {...}}`, fields in the order
   `storage.UPLOAD_FIELD_NAMES`, with an S3-style policy (base64 JSON) signed by the world's
   secret (HMAC-SHA1, base64), as S3's signature version 2 POST policies are.
2. The client posts that form to storage (`storage.receive_upload`).
3. `POST /files/{file_id}/finalize` (owner only) turns the received bytes into a file of the Thing
   and answers its file object; only now is it listed, counted and served.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import unicodedata

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
from thingapp.sandbox.world.objects import file_date, file_object, now_iso
from thingapp.sandbox.world.state import Grant, PendingUpload, StoredFile

ACCESS_KEY_ID = "AKIASANDBOXUPLOADS00"
BUCKET = "thingiverse-sandbox-uploads"
MAX_FILENAME_LENGTH = 255


async def start_upload(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """POST /things/{id}/files: the storage form for uploading one file to the user's Thing."""
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
    data = file_object(
        file_id=file_id,
        name=pending.filename,
        size=pending.size,
        date=file_date(now_iso()),
        public_url=context.config.public_url,
        downloads=0,
    )
    world.files[file_id] = StoredFile(pending.thing_id, data, pending.received)
    world.things[pending.thing_id]["file_count"] += 1
    return JSONResponse(data)
