"""The main Oz flow through a client generated from docs/openapi.json (see client-e2e.sh).

Usage: client_e2e.py ROOT SERVER_BIN GENERATOR
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT, BIN, GENERATOR = sys.argv[1:4]


def log(*a):
    print("client_e2e:", *a, file=sys.stderr)


work = tempfile.mkdtemp(prefix="openoz-client-")
gen = os.path.join(work, "gen")
os.makedirs(gen)
out = subprocess.run(
    [GENERATOR, "generate", "--path", os.path.join(ROOT, "docs/openapi.json"), "--meta", "none",
     "--output-path", os.path.join(gen, "openoz_client")],
    capture_output=True, text=True,
)
if out.returncode != 0:
    log("generation failed:", out.stdout[-4000:], out.stderr[-4000:])
    sys.exit(1)
sys.path.insert(0, gen)

from openoz_client import AuthenticatedClient, Client  # noqa: E402
from openoz_client.api.analyses import create_analyses  # noqa: E402
from openoz_client.api.auth import login  # noqa: E402
from openoz_client.api.folders import create_folder, get_folder  # noqa: E402
from openoz_client.api.lite import lite_version  # noqa: E402
from openoz_client.models import (  # noqa: E402
    AnalysesRequest,
    AnalysisRequest,
    AnalysisType,
    BiometryResult,
    Credentials,
    Folder,
    LiteVersion,
    LoginRequest,
    MediaType,
    QualityConfs,
    QualityResult,
    State,
    Status,
    TokenPair,
    UploadForm,
)
from openoz_client.types import File  # noqa: E402

s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
base = f"http://127.0.0.1:{port}"
email, password = "client-e2e@example.com", "ce-" + secrets.token_hex(12)
env = dict(os.environ, OZ_DATA_DIR=os.path.join(work, "data"), OZ_LISTEN=f"127.0.0.1:{port}", OZ_PUBLIC_URL=base,
           OZ_ADMIN_EMAIL=email, OZ_ADMIN_PASSWORD=password, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
server_log = open(os.path.join(work, "server.log"), "w")
server = subprocess.Popen([BIN, "serve"], cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT)


def fail(msg):
    log("FAILED:", msg)
    server.terminate()
    server.wait(10)
    server_log.flush()
    with open(os.path.join(work, "server.log")) as f:
        log("server log (end):", f.read()[-4000:])
    sys.exit(1)


try:
    for _ in range(240):
        try:
            urllib.request.urlopen(base + "/api/version/", timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                fail("the server did not start")
            time.sleep(0.5)

    anonymous = Client(base_url=base, raise_on_unexpected_status=True)
    version = lite_version.sync(client=anonymous)
    if not isinstance(version, LiteVersion) or not version.models:
        fail(f"GET /version: {version!r}")

    pair = login.sync(client=anonymous, body=LoginRequest(credentials=Credentials(email=email, password=password)))
    if not isinstance(pair, TokenPair) or len(pair.access_token) != 128:
        fail(f"login: {pair!r}")
    api = AuthenticatedClient(base_url=base, token=pair.access_token, prefix="", auth_header_name="X-Forensic-Access-Token",
                              raise_on_unexpected_status=True, timeout=120)

    def fixture(rel):
        with open(os.path.join(ROOT, "tests/fixtures", rel), "rb") as f:
            return f.read()

    import io

    payload = {"media:tags": {"video1": ["video_selfie", "video_selfie_blank"], "photo1": ["photo_id_front"]},
               "folder:meta_data": {"transaction_id": "client-e2e"}}
    form = UploadForm(
        payload=json.dumps(payload),
        video1=File(payload=io.BytesIO(fixture("videos/portrait_720x1280.mp4")), file_name="selfie.mp4",
                    mime_type="video/mp4"),
        photo1=File(payload=io.BytesIO(fixture("faces/live/obama__podium.jpg")), file_name="id.jpg",
                    mime_type="image/jpeg"),
    )
    folder = create_folder.sync(client=api, body=form)
    if not isinstance(folder, Folder):
        fail(f"upload: {folder!r}")
    if [m.media_type for m in folder.media] != [MediaType.VIDEO_FOLDER, MediaType.IMAGE_FOLDER]:
        fail(f"media[0] is the first part: {[m.media_type for m in folder.media]}")
    if folder.resolution_status != Status.INITIAL:
        fail(f"a new folder: {folder.resolution_status}")

    started = create_analyses.sync(
        id=str(folder.folder_id), client=api,
        body=AnalysesRequest(analyses=[AnalysisRequest(type_="quality"), AnalysisRequest(type_="biometry")]))
    if not isinstance(started, list) or len(started) != 2:
        fail(f"analyses: {started!r}")

    deadline = time.time() + 300
    while True:
        f = get_folder.sync(id=str(folder.folder_id), client=api, with_analyses=True)
        if not isinstance(f, Folder):
            fail(f"poll: {f!r}")
        if f.analyses and all(a.state != State.PROCESSING for a in f.analyses):
            break
        if time.time() > deadline:
            fail("analyses did not finish")
        time.sleep(0.5)

    by_type = {a.type_: a for a in f.analyses}
    quality, biometry = by_type.get(AnalysisType.QUALITY), by_type.get(AnalysisType.BIOMETRY)
    if quality is None or biometry is None:
        fail(f"types: {list(by_type)}")
    for a in (quality, biometry):
        if a.state != State.FINISHED or a.resolution not in (Status.SUCCESS, Status.DECLINED, Status.OPERATOR_REQUIRED):
            fail(f"{a.type_}: state {a.state}, resolution {a.resolution}, error {a.error_message}")
    if not isinstance(quality.confs, QualityConfs):
        fail(f"QUALITY confs: {quality.confs!r}")
    q = quality.results_media[0].results_data
    if not isinstance(q, QualityResult) or not 0.0 <= q.confidence_spoofing <= 1.0:
        fail(f"QUALITY results_data: {q!r}")
    if quality.results_media[0].source_media_id != f.media[0].media_id:
        fail("QUALITY takes the video")
    shots = quality.results_media[0].output_images
    if not shots or shots[0].original_name != "ResultImage.jpg" or shots[0].media_type != MediaType.IMAGE_RESULT_ANALYSIS_SINGLE:
        fail(f"best shot: {shots!r}")
    b = biometry.results_data
    if not isinstance(b, BiometryResult) or not 0.0 <= b.min_confidence <= b.max_confidence <= 1.0:
        fail(f"BIOMETRY results_data: {b!r}")
    if not all(isinstance(r.results_data, BiometryResult) for r in biometry.results_media):
        fail("BIOMETRY per media")
    log(f"ok: QUALITY {quality.resolution.value} (confidence_spoofing {q.confidence_spoofing}), "
        f"BIOMETRY {biometry.resolution.value} (min_confidence {b.min_confidence})")
finally:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
