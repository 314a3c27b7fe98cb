#!/usr/bin/env python3
"""Seeds a live openoz server for scripts/schemathesis.sh and writes a schemathesis.toml whose
dictionaries make the `{id}` path parameters name these real objects most of the time, so the
answers checked against the schemas are real folders, media, analyses, users, companies,
collections, persons and stored files rather than 404s.

usage: schemathesis_seed.py BASE_URL TOKEN ROOT OUT_TOML

Deleting operations keep random ids (they would remove the seeded objects mid-run); the objects
they need are created by the run itself.
"""

import json
import sys
import time
import urllib.request
import uuid

BASE, TOKEN, ROOT, OUT = sys.argv[1:5]


def call(method, path, body=None, content_type="application/json"):
    data = None
    headers = {"X-Forensic-Access-Token": TOKEN}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read() or b"null")


def multipart(fields):
    """fields: (name, filename or None, content type, bytes)."""
    boundary = uuid.uuid4().hex
    out = b""
    for name, filename, ctype, data in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\nContent-Type: {ctype}\r\n\r\n".encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def fixture(rel):
    with open(f"{ROOT}/tests/fixtures/{rel}", "rb") as f:
        return f.read()


company = call("POST", "/api/companies/", {"name": "schemathesis"})["company_id"]
user = call(
    "POST",
    "/api/users/",
    {"email": "st-client@example.com", "password": "st-client-password", "user_type": "CLIENT", "company_id": company},
)["user_id"]

portrait = fixture("faces/live/obama__portrait.jpg")
podium = fixture("faces/live/obama__podium.jpg")
payload = {
    "media:tags": {"photo1": ["photo_selfie"], "photo2": ["photo_id_front"]},
    "folder:meta_data": {"transaction_id": "st-1"},
    "analyses": [{"type": "quality"}, {"type": "biometry"}],
}
body, ctype = multipart(
    [
        ("payload", None, "application/json", json.dumps(payload).encode()),
        ("photo1", "portrait.jpg", "image/jpeg", portrait),
        ("photo2", "podium.jpg", "image/jpeg", podium),
    ]
)
folder = call("POST", "/api/folders/", body, ctype)["folder_id"]
for _ in range(240):
    f = call("GET", f"/api/folders/{folder}/?with_analyses=true")
    if f["analyses"] and all(a["state"] not in ("PROCESSING", "QUEUED") for a in f["analyses"]):
        break
    time.sleep(0.5)
media = [m["media_id"] for m in f["media"]]
analyses = [a["analysis_id"] for a in f["analyses"]]
files = [m["original_url"].split("/static/")[1].split("?")[0] for m in f["media"] if m.get("original_url")]

collection = call("POST", "/api/collections/", {"alias": "st-watchlist", "company_id": company})["collection_id"]
body, ctype = multipart(
    [
        ("payload", None, "application/json", json.dumps({"person:meta_data": {"name": "st"}}).encode()),
        ("photo1", "portrait.jpg", "image/jpeg", portrait),
    ]
)
person = call("POST", f"/api/collections/{collection}/persons/", body, ctype)
images = [i["image_id"] for i in person["images"]]
person = person["person_id"]

session = call(
    "POST",
    "/api/event_sessions/",
    {"meta_data": {"sdk": "schemathesis"}, "events": [{"event": "capture_started"}, {"event": "upload_done"}]},
)["session_id"]

dictionaries = {
    "companies": [company],
    "users": [user],
    "folders": [folder],
    "media": media,
    "analyses": analyses,
    "collections": [collection],
    "persons": [person],
    "images": images,
    "files": files,
    "event_sessions": [session],
}
# (operation ids, {path parameter: dictionary}); deletes of whole objects are left out.
bindings = [
    (["get_company", "update_company", "webhook_secret_status", "rotate_webhook_secret", "delete_webhook_secret"],
     {"id": "companies"}),
    (["get_user", "update_user"] + [f"{op}_users" for op in ("get_meta_data", "merge_meta_data", "merge_meta_data_patch", "clear_meta_data")],
     {"id": "users"}),
    (["get_folder", "add_media", "list_folder_analyses", "create_analyses"]
     + [f"{op}_folders" for op in ("get_meta_data", "merge_meta_data", "merge_meta_data_patch", "clear_meta_data")], {"id": "folders"}),
    (["get_media", "patch_media"] + [f"{op}_media" for op in ("get_meta_data", "merge_meta_data", "merge_meta_data_patch", "clear_meta_data")],
     {"id": "media"}),
    (["get_analysis", "analysis_resolutions", "decide_analysis"]
     + [f"{op}_analyses" for op in ("get_meta_data", "merge_meta_data", "merge_meta_data_patch", "clear_meta_data")], {"id": "analyses"}),
    (["get_collection", "list_persons", "create_person"]
     + [f"{op}_collections" for op in ("get_meta_data", "merge_meta_data", "merge_meta_data_patch", "clear_meta_data")], {"id": "collections"}),
    (["get_person", "list_person_images", "add_person_images"], {"id": "collections", "person_id": "persons"}),
    (["get_person_image"], {"id": "collections", "person_id": "persons", "image_id": "images"}),
    (["static_file"], {"file": "files"}),
    (["get_event_session", "append_events"], {"id": "event_sessions"}),
    # The second run (schemathesis.sh), as the seeded client: its own sessions.
    (["revoke_sessions"], {"id": "users"}),
]


def toml_str(s):
    return json.dumps(s)


lines = []
for name, values in dictionaries.items():
    lines.append(f"[dictionaries.{name}]")
    lines.append("values = [" + ", ".join(toml_str(v) for v in values) + "]")
    lines.append("")
for ops, params in bindings:
    lines.append("[[operations]]")
    lines.append("include-operation-id = [" + ", ".join(toml_str(o) for o in ops) + "]")
    inner = ", ".join(f'"path.{p}" = {{ dictionary = "{d}", probability = 0.8 }}' for p, d in params.items())
    lines.append(f"parameters = {{ {inner} }}")
    lines.append("")
with open(OUT, "w") as f:
    f.write("\n".join(lines))
print(f"seeded: company {company}, user {user}, folder {folder} ({len(media)} media, {len(analyses)} analyses), "
      f"collection {collection}, person {person}", file=sys.stderr)
