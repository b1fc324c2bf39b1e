"""Multimodal batches, the decisions: MIME types, per-file limits, inline vs uploaded, the request for
each file, and shards under a storage quota. Pure: no Airflow, no HTTP, no file I/O.

Everything here runs before anything billable, so a bad file is refused while nothing has been
uploaded or submitted, with an error naming the file and the fix.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from ..exceptions import GeminiMediaError
from .requests import FILE_LIMIT_BYTES

MB = 1024 * 1024
GB = 1024 * MB
DEFAULT_STORAGE_QUOTA_BYTES = 20 * GB  # the File API's per-project storage (published limit)
DEFAULT_INLINE_MAX_BYTES = 1 * MB  # at or below: base64 in the JSONL; above: uploaded once, referenced
INLINE_REQUEST_LIMIT_BYTES = 20 * MB  # one request's inline data (the API's request size limit)
# A shard's JSONL must stay under the 2 GB input-file limit; headroom for envelopes and prompts.
JSONL_BUDGET_BYTES = FILE_LIMIT_BYTES - 128 * MB
REQUEST_OVERHEAD_BYTES = 512  # key, envelope, fileData reference: a generous per-request estimate
FILE_TTL_SECONDS = 48 * 3600  # uploaded files are deleted by the service 48 h after upload

# The types Gemini accepts as media parts (ai.google.dev "document/image/audio/video understanding"),
# with the per-file limit where it is lower than the File API's 2 GB.
SUPPORTED_MIME_TYPES: dict[str, int] = {
    **{m: FILE_LIMIT_BYTES for m in ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")},
    **{m: FILE_LIMIT_BYTES for m in ("audio/wav", "audio/mp3", "audio/mpeg", "audio/aiff", "audio/aac",
                                     "audio/ogg", "audio/flac")},
    **{m: FILE_LIMIT_BYTES for m in ("video/mp4", "video/mpeg", "video/mov", "video/quicktime", "video/avi",
                                     "video/x-flv", "video/mpg", "video/webm", "video/wmv", "video/3gpp")},
    "application/pdf": 50 * MB,  # documents: 50 MB or 1,000 pages
    **{m: FILE_LIMIT_BYTES for m in ("text/plain", "text/html", "text/css", "text/csv", "text/xml", "text/markdown",
                                     "text/javascript", "application/x-javascript", "text/x-python",
                                     "application/x-python", "text/rtf", "application/rtf", "application/json")},
}
# Extensions the standard library does not know everywhere.
EXTRA_EXTENSIONS = {".md": "text/markdown", ".heic": "image/heic", ".heif": "image/heif", ".webp": "image/webp",
                    ".flac": "audio/flac", ".aac": "audio/aac", ".ogg": "audio/ogg", ".mp3": "audio/mp3",
                    ".wav": "audio/wav", ".aiff": "audio/aiff", ".aif": "audio/aiff", ".mov": "video/mov",
                    ".webm": "video/webm", ".3gp": "video/3gpp", ".flv": "video/x-flv", ".wmv": "video/wmv",
                    ".py": "text/x-python", ".json": "application/json", ".csv": "text/csv"}
MIME_ALIASES = {"audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/x-flac": "audio/flac",
                "audio/x-aiff": "audio/aiff", "image/jpg": "image/jpeg", "video/x-msvideo": "video/avi",
                "video/x-ms-wmv": "video/wmv", "application/javascript": "text/javascript"}
IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif",
                    "image/heic": "heic", "image/heif": "heif", "audio/wav": "wav", "audio/mp3": "mp3",
                    "audio/mpeg": "mp3", "audio/L16": "pcm", "video/mp4": "mp4", "application/pdf": "pdf"}

# ---------------------------------------------------------------------- MIME type
def sniff_mime(head: bytes) -> str | None:
    """The type a file's first bytes announce (magic numbers); None when they announce none."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/avi"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mp3"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith(b"heic") or brand.startswith(b"heix"):
            return "image/heic"
        if brand.startswith(b"qt"):
            return "video/mov"
        if brand.startswith(b"3g"):
            return "video/3gpp"
        if brand.startswith(b"M4A"):
            return "audio/aac"
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"GIF8"):
        return "image/gif"  # detected so the error can say "unsupported", not "unknown"
    return None


def guess_from_name(name: str) -> str | None:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in EXTRA_EXTENSIONS:
        return EXTRA_EXTENSIONS[suffix]
    return mimetypes.guess_type("x" + suffix)[0] if suffix else None


def _override(path: str, override: Any) -> str | None:
    if override is None:
        return None
    if isinstance(override, str):
        return override
    if callable(override):
        return override(path)
    name = PurePosixPath(path).name
    for pattern, mime in override.items():  # {"*.bin": "audio/wav", ".dat": "application/pdf"}
        if pattern.startswith(".") and name.lower().endswith(pattern.lower()):
            return mime
        if fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(path, pattern):
            return mime
    return None


def detect_mime(path: str, head: bytes, override: Any = None) -> str:
    """The file's MIME type: the override if it names one, else the bytes' magic number, else the
    extension. Refuses a type Gemini does not take, or none at all, naming the file and the fix."""
    mime = _override(path, override)
    chosen_by = "mime_type override"
    if mime is None:
        mime, chosen_by = sniff_mime(head), "file contents"
    if mime is None:
        mime, chosen_by = guess_from_name(path), "file extension"
    if mime is None:
        raise GeminiMediaError(
            "cannot tell the MIME type from the file's contents or extension: give mime_type= "
            "(a type, a {'*.ext': type} mapping or a callable)", path=path)
    mime = MIME_ALIASES.get(mime, mime)
    if mime not in SUPPORTED_MIME_TYPES:
        raise GeminiMediaError(
            f"MIME type {mime} (from the {chosen_by}) is not one Gemini accepts as input; supported: "
            f"{', '.join(sorted(SUPPORTED_MIME_TYPES))}. Convert the file, or correct the type with mime_type=",
            path=path)
    return mime


def check_size(path: str, size: int, mime: str) -> None:
    """The per-file limit of the type (PDF 50 MB; everything the File API takes: 2 GB); empty files too."""
    if size <= 0:
        raise GeminiMediaError("the file is empty", path=path)
    limit = SUPPORTED_MIME_TYPES.get(mime, FILE_LIMIT_BYTES)
    if size > limit:
        raise GeminiMediaError(
            f"{size} bytes is over the {_human(limit)} per-file limit for {mime}: split or compress it", path=path)


def _human(n: int) -> str:
    return f"{n / GB:g} GB" if n >= GB else f"{n / MB:g} MB"


# ---------------------------------------------------------------------- sha256 as the File API reports it
def sha256_hex_of_api(value: str | None) -> str | None:
    """A File's ``sha256Hash`` as a hex digest. The Gemini API sends base64 of the *hex* digest
    (googleapis/js-genai#381); raw-digest base64 and plain hex are accepted too, should that change."""
    if not value:
        return None
    if re.fullmatch(r"[0-9a-fA-F]{64}", value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        return None
    if len(raw) == 64 and re.fullmatch(rb"[0-9a-fA-F]{64}", raw):
        return raw.decode().lower()
    if len(raw) == 32:
        return raw.hex()
    return None


# ---------------------------------------------------------------------- one file, one request
@dataclass(frozen=True)
class MediaItem:
    """One input file, checked: its key (the source path), size, MIME type and content digest."""

    key: str
    size: int
    mime_type: str
    sha256: str = ""

    @property
    def name(self) -> str:
        return PurePosixPath(self.key.split("://", 1)[-1]).name


def is_inline(item: MediaItem, inline_max_bytes: int) -> bool:
    return item.size <= min(inline_max_bytes, INLINE_REQUEST_LIMIT_BYTES * 3 // 4)  # base64 grows by 4/3


def inline_part(item: MediaItem, data: bytes) -> dict:
    return {"inlineData": {"mimeType": item.mime_type, "data": base64.b64encode(data).decode("ascii")}}


def file_part(item: MediaItem, file_uri: str) -> dict:
    return {"fileData": {"mimeType": item.mime_type, "fileUri": file_uri}}


class _Fields(dict):
    def __missing__(self, name: str) -> str:
        raise GeminiMediaError(f"the prompt template names {{{name}}}, which is not one of "
                               f"{', '.join('{' + k + '}' for k in sorted(self))}; double the braces for a "
                               "literal one ({{ and }})", path="prompt")


def prompt_fields(item: MediaItem) -> dict:
    stem = PurePosixPath(item.name).stem
    return {"path": item.key, "key": item.key, "name": item.name, "stem": stem, "mime_type": item.mime_type,
            "size": item.size}


def build_request(item: MediaItem, media_part: dict, prompt: Any) -> dict:
    """The GenerateContentRequest for one file: the media part first (as the guide recommends for
    one image or document), then the prompt. ``prompt`` is a template (``{path}``, ``{name}``,
    ``{stem}``, ``{mime_type}``, ``{size}``) or a callable(item) returning text or a list of parts;
    a callable may place the media itself by returning the string "{media}" as one of the parts."""
    if callable(prompt):
        made = prompt(item)
        parts_in = made if isinstance(made, list) else [made]
        if any(p == "{media}" for p in parts_in):
            parts = [media_part if p == "{media}" else _text_part(p, item) for p in parts_in]
        else:
            parts = [media_part, *(_text_part(p, item) for p in parts_in)]
    else:
        if not isinstance(prompt, str) or not prompt.strip():
            raise GeminiMediaError("prompt must be a non-empty string template or a callable", path="prompt")
        try:
            text = prompt.format_map(_Fields(prompt_fields(item)))
        except (ValueError, IndexError) as exc:
            raise GeminiMediaError(f"the prompt template is malformed ({exc}); double literal braces",
                                   path="prompt") from None
        parts = [media_part, {"text": text}]
    return {"contents": [{"role": "user", "parts": parts}]}


def _text_part(part: Any, item: MediaItem) -> dict:
    if isinstance(part, str):
        return {"text": part}
    if isinstance(part, dict):
        return part
    raise GeminiMediaError(f"the prompt callable returned a {type(part).__name__}; return text, parts (dicts) or "
                           "a list of them", path=item.key)


# ---------------------------------------------------------------------- shards under a quota
@dataclass
class Shard:
    """Contents (by sha256) that go in one job, and how much storage and JSONL they take."""

    index: int
    keys: list[str] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)  # sha256 of each distinct content uploaded for the shard
    upload_bytes: int = 0
    jsonl_bytes: int = 0


def estimated_line_bytes(item: MediaItem, inline: bool) -> int:
    return REQUEST_OVERHEAD_BYTES + len(item.key) * 2 + ((item.size + 2) // 3 * 4 if inline else 0)


def plan_shards(items: Iterable[MediaItem], *, inline_max_bytes: int, storage_bytes: int,
                jsonl_budget: int = JSONL_BUDGET_BYTES) -> list[Shard]:
    """Split the run so each shard's uploads plus its input JSONL fit in ``storage_bytes`` and its JSONL
    under the 2 GB input limit. Files with the same content travel together (one upload, one shard),
    in the order of their first key, so the plan is deterministic. A single content that cannot fit
    alone is refused, naming the file."""
    groups: dict[str, list[MediaItem]] = {}
    for item in items:
        groups.setdefault(item.sha256 or item.key, []).append(item)
    shards: list[Shard] = []
    current = Shard(0)
    for digest, members in groups.items():
        first = members[0]
        inline = is_inline(first, inline_max_bytes)
        upload = 0 if inline else first.size
        jsonl = sum(estimated_line_bytes(m, inline) for m in members)
        if upload + jsonl > storage_bytes or jsonl > jsonl_budget:
            raise GeminiMediaError(
                f"{upload + jsonl} bytes of media and requests cannot fit in the {storage_bytes} bytes of File API "
                "storage available (storage_quota_bytes minus what other files already use): raise the quota, "
                "free storage, or leave this file out", path=first.key)
        if current.keys and (current.upload_bytes + current.jsonl_bytes + upload + jsonl > storage_bytes
                             or current.jsonl_bytes + jsonl > jsonl_budget):
            shards.append(current)
            current = Shard(len(shards))
        current.keys.extend(m.key for m in members)
        if not inline:
            current.uploads.append(digest)
        current.upload_bytes += upload
        current.jsonl_bytes += jsonl
    if current.keys:
        shards.append(current)
    return shards


def wait_bound_seconds(expirations: Iterable[float], now: float, margin: float) -> float | None:
    """How long a job may wait before the first of its uploaded files expires (less a margin);
    None when it uses no uploaded file (inline media never expire)."""
    earliest = min(expirations, default=None)
    return None if earliest is None else earliest - now - margin


def safe_name(key: str, limit: int = 120) -> str:
    """A directory name for a key (a path or URI): readable, no separators, unique by a short digest."""
    import hashlib

    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", key.split("://", 1)[-1]).strip("._")[-limit:] or "key"
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def extension_for(mime: str) -> str:
    return IMAGE_EXTENSIONS.get(mime) or (mimetypes.guess_extension(mime) or ".bin").lstrip(".")


# ---------------------------------------------------------------------- JSONL lines that reference files
FILE_REF = "file"  # a part {"file": "<path or URI>", "mime_type": "..."} names a file to send as media


def file_refs(request: Any) -> list[dict]:
    """The ``{"file": ...}`` parts of one request (in contents and the system instruction), in order."""
    found = []
    contents = request.get("contents") if isinstance(request, dict) else None
    contents = [contents] if isinstance(contents, dict) else contents or []
    system = request.get("systemInstruction", request.get("system_instruction")) if isinstance(request, dict) else None
    for content in [*contents, *([system] if isinstance(system, dict) else [])]:
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in [parts] if isinstance(parts, dict) else parts or []:
            if isinstance(part, dict) and FILE_REF in part:
                found.append(part)
    return found


def ref_path(part: dict, where: str) -> str:
    path = part.get(FILE_REF)
    if not isinstance(path, str) or not path.strip():
        raise GeminiMediaError(f"a {{'file': ...}} part needs a path or URI string, got {path!r}", path=where)
    extra = set(part) - {FILE_REF, "mime_type", "mimeType"}
    if extra:
        raise GeminiMediaError(f"a {{'file': ...}} part takes only 'file' and 'mime_type', not {sorted(extra)}",
                               path=where)
    return path


def ref_mime(part: dict) -> str | None:
    return part.get("mime_type") or part.get("mimeType")


def replace_refs(request: dict, part_for: Any) -> dict:
    """A copy of the request with each ``{"file": path}`` part (in contents and the system instruction,
    nowhere else) replaced by ``part_for(path)``."""
    def content(c: Any) -> Any:
        if not isinstance(c, dict) or "parts" not in c:
            return c
        parts = c["parts"]
        listed = [parts] if isinstance(parts, dict) else parts
        if not isinstance(listed, list):
            return c
        return {**c, "parts": [part_for(p[FILE_REF]) if isinstance(p, dict) and FILE_REF in p else p
                               for p in listed]}

    out = dict(request)
    contents = out.get("contents")
    if isinstance(contents, list):
        out["contents"] = [content(c) for c in contents]
    elif isinstance(contents, dict):
        out["contents"] = content(contents)
    for name in ("systemInstruction", "system_instruction"):
        if isinstance(out.get(name), dict):
            out[name] = content(out[name])
    return out


def plan_line_shards(lines: Iterable[tuple[str, list[str], int]], contents: dict[str, tuple[int, bool]], *,
                     storage_bytes: int, jsonl_budget: int = JSONL_BUDGET_BYTES) -> list[Shard]:
    """Shards for JSONL lines that reference files: ``lines`` are (key, sha256 of each referenced content,
    the line's own bytes); ``contents`` maps sha256 -> (size, inline). Lines sharing a content travel in one
    shard (so it is uploaded once); each shard's uploads plus JSONL fit ``storage_bytes``."""
    lines = list(lines)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for key, digests, _ in lines:
        for digest in digests:
            parent[find(f"k:{key}")] = find(f"c:{digest}")
    groups: dict[str, list[tuple[str, list[str], int]]] = {}
    for line in lines:
        groups.setdefault(find(f"k:{line[0]}"), []).append(line)
    shards: list[Shard] = []
    current = Shard(0)
    for members in groups.values():
        distinct = dict.fromkeys(d for _, digests, _ in members for d in digests)
        uploads = [d for d in distinct if not contents[d][1]]
        upload = sum(contents[d][0] for d in uploads)
        jsonl = sum(size + sum((contents[d][0] + 2) // 3 * 4 if contents[d][1] else REQUEST_OVERHEAD_BYTES
                               for d in digests) for _, digests, size in members)
        if upload + jsonl > storage_bytes or jsonl > jsonl_budget:
            raise GeminiMediaError(
                f"{len(members)} line(s) sharing media need {upload + jsonl} bytes of File API storage, more than "
                f"the {storage_bytes} available: raise storage_quota_bytes or split these requests",
                path=members[0][0])
        if current.keys and (current.upload_bytes + current.jsonl_bytes + upload + jsonl > storage_bytes
                             or current.jsonl_bytes + jsonl > jsonl_budget):
            shards.append(current)
            current = Shard(len(shards))
        current.keys.extend(key for key, _, _ in members)
        current.uploads.extend(uploads)
        current.upload_bytes += upload
        current.jsonl_bytes += jsonl
    if current.keys:
        shards.append(current)
    return shards
