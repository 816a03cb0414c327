"""``make demo`` left running: each guard driven with real HTTP requests on 127.0.0.1.

One server (``python -m recsys_utils.app.serve``, a small MF checkpoint, at most two
sessions, kernels culled after 10 s idle) serves the module's tests: foreign Host, Origin and
cross-site requests refused, no kernel without the token, one kernel per
browser session, a third session refused, idle kernels culled, and a SIGKILL of the
server leaving no Voila, no kernel and no folder that blocks the next start. A bad
checkpoint is one line and exit 2 before anything is served.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from recsys_utils.app import serve as serve_mod
from recsys_utils.constants import DATA_DIR_ENV

pytestmark = pytest.mark.integration
TOKEN = "test-token-not-guessable-1234"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    """A data folder with a one-epoch MF checkpoint on ml-latest-small; the server's env."""
    default = Path(__file__).resolve().parents[3] / "shared" / "data" / "movielens"  # as conftest
    mirror = Path(os.environ.get("RECSYS_DATA_MIRROR") or default)
    if not (mirror / "ml-latest-small.zip").is_file():
        pytest.skip(f"MovieLens mirror not found at {mirror}")
    home = tmp_path_factory.mktemp("data")
    env = {
        **os.environ,
        DATA_DIR_ENV: str(home),
        "RECSYS_DATA_MIRROR": str(mirror),
        serve_mod.TOKEN_ENV: TOKEN,
    }
    script = (
        "from recsys_utils import data; from recsys_utils.models import checkpoints, make_model;"
        "from recsys_utils.constants import checkpoint_dir;"
        "r = data.load_dataset('ml-latest-small').ratings;"
        "m = make_model('mf', epochs=1, n_factors=8, progress=False, device='cpu').fit(r);"
        "print(checkpoints.save(m, checkpoint_dir() / 'tiny', dataset='ml-latest-small'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return env, Path(out.stdout.strip().splitlines()[-1])


def _start(env, sidecar, port, *extra):
    log = Path(tempfile.mkstemp(prefix="serve-", suffix=".log")[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "recsys_utils.app.serve", "--checkpoint", str(sidecar),
         f"--port={port}", "--max-sessions=2", "--idle-timeout=10", *extra],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    proc.log = log
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if not serve_mod.port_is_free(port):
            return proc
        time.sleep(0.3)
    proc.kill()
    pytest.fail(f"the app server did not start: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def server(app_env):
    env, sidecar = app_env
    port = _free_port()
    proc = _start(env, sidecar, port)
    yield proc, port
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def request(port, path, headers=None, cookies=None):
    """GET ``path``; (status, headers, body). ``cookies`` (a dict) is sent and updated."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    sent = {"Host": f"127.0.0.1:{port}", **(headers or {})}
    if cookies:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    conn.putrequest("GET", path, skip_host=True)
    for key, value in sent.items():
        conn.putheader(key, value)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read().decode("utf-8", "replace")
    if cookies is not None:
        for line in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = line.partition("=")
            cookies[name] = rest.split(";")[0]
    conn.close()
    return resp.status, resp.headers, body


def kernel_of(body: str) -> str:
    found = re.search(r'"kernelId":\s*"([0-9a-f-]+)"', body)
    assert found, "the page names no kernel"
    return found.group(1)


def alive(port, kernel, cookies) -> bool:
    status, _, body = request(port, f"/api/kernels/{kernel}", cookies=dict(cookies))
    assert status in (200, 404), (status, body[:300])
    return status == 200


def kernel_processes(proc) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(proc.pid).children(recursive=True)
        if "ipykernel" in " ".join(p.cmdline())
    ]


def test_foreign_host_origin_and_cross_site_requests_are_refused(server):
    proc, port = server
    ok = f"/?token={TOKEN}"
    assert request(port, ok, {"Host": "evil.example"})[0] == 403  # DNS rebinding
    assert request(port, ok, {"Host": f"evil.example:{port}"})[0] == 403
    assert request(port, ok, {"Origin": "http://evil.example"})[0] == 403
    assert request(port, ok, {"Origin": "null"})[0] == 403
    assert request(port, ok, {"Sec-Fetch-Site": "cross-site"})[0] == 403
    ws = {"Origin": "http://evil.example", "Upgrade": "websocket", "Connection": "Upgrade"}
    assert request(port, "/api/kernels/00000000-0000-0000-0000-000000000000/channels", ws)[0] == 403
    assert not kernel_processes(proc)  # none of these started a kernel
    assert "is not this machine" in proc.log.read_text()


def test_without_the_token_no_kernel_starts(server):
    proc, port = server
    status, headers, _ = request(port, "/")
    assert status == 302 and "/login" in headers["Location"]
    status, headers, _ = request(port, "/?token=wrong")
    assert status == 302 and "/login" in headers["Location"]
    assert not kernel_processes(proc)
    out = proc.log.read_text()
    assert f"token={TOKEN}" in out.splitlines()[-1] or f"token={TOKEN}" in out
    status, headers, _ = request(port, f"/?token={TOKEN}", {"Host": f"localhost:{port}"})
    assert status == 200
    cookies = [c for c in headers.get_all("Set-Cookie") if "username" in c or "session" in c]
    assert cookies and all("SameSite=Strict" in c for c in cookies)


def test_one_kernel_per_session_a_cap_and_idle_kernels_culled(server):
    proc, port = server
    # the module's server is shared: an earlier test's page may still hold a kernel (another
    # session) until the cull takes it; the cap below is counted from none
    deadline = time.monotonic() + 120
    while kernel_processes(proc) and time.monotonic() < deadline:
        time.sleep(1)
    assert not kernel_processes(proc), "an earlier test's kernel was never culled"
    a: dict = {}
    status, _, body = request(port, f"/?token={TOKEN}", cookies=a)
    assert status == 200
    first = kernel_of(body)
    assert alive(port, first, a)
    status, _, body = request(port, "/", cookies=a)  # the same browser reloads
    assert status == 200
    second = kernel_of(body)
    assert second != first and alive(port, second, a)
    assert not alive(port, first, a)  # its earlier kernel is gone
    b: dict = {}
    assert request(port, f"/?token={TOKEN}", cookies=b)[0] == 200
    c: dict = {}
    status, _, _ = request(port, f"/?token={TOKEN}", cookies=c)
    assert status == 503  # a third session past --max-sessions=2
    assert len(kernel_processes(proc)) <= 2
    deadline = time.monotonic() + 120  # idle 10 s, checked every 5 s: culled
    while time.monotonic() < deadline and alive(port, second, a):
        time.sleep(1)
    assert not alive(port, second, a)
    assert "Culling 'idle' kernel" in proc.log.read_text()
    assert request(port, f"/?token={TOKEN}", cookies=c)[0] == 200  # room again


def test_sigkill_of_the_server_leaves_no_voila_kernel_or_folder(app_env):
    env, sidecar = app_env
    port = _free_port()
    proc = _start(env, sidecar, port)
    assert request(port, f"/?token={TOKEN}")[0] == 200  # a kernel is running
    children = psutil.Process(proc.pid).children(recursive=True)
    assert any("ipykernel" in " ".join(p.cmdline()) for p in children)
    folders = {p for p in Path(tempfile.gettempdir()).glob("recsys-app-*")}
    mine = [f for f in folders if (f / "server.pid").read_text() == str(proc.pid)]
    assert len(mine) == 1
    proc.kill()  # SIGKILL: no handler runs in the server
    proc.wait()
    gone, left = psutil.wait_procs(children, timeout=60)
    assert not left, [p.cmdline() for p in left]
    assert mine[0].exists()  # left behind by the killed server ...
    again = _start(env, sidecar, port)  # ... the same port serves again
    try:
        assert request(port, f"/?token={TOKEN}")[0] == 200
        assert not mine[0].exists()  # ... and the next start removed it
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=30) == 0


def test_a_bad_checkpoint_is_one_line_before_anything_is_served(app_env, tmp_path):
    env, sidecar = app_env
    bad = tmp_path / "bad.json"
    meta = json.loads(sidecar.read_text())
    weights = sidecar.parent / meta["weights"]
    blob = bytearray(weights.read_bytes())
    blob[-8:] = b"\xff" * 8
    (tmp_path / meta["weights"]).write_bytes(bytes(blob))
    bad.write_text(json.dumps(meta))
    port = _free_port()
    out = subprocess.run(
        [sys.executable, "-m", "recsys_utils.app.serve", "--checkpoint", str(bad),
         f"--port={port}"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "SHA-256" in lines[0]
    assert "serving" not in out.stdout
    assert serve_mod.port_is_free(port)


def test_sigkill_of_voila_itself_ends_its_kernels_and_the_server(app_env):
    env, sidecar = app_env
    port = _free_port()
    proc = _start(env, sidecar, port)
    assert request(port, f"/?token={TOKEN}")[0] == 200
    (voila,) = [
        p for p in psutil.Process(proc.pid).children() if "_voila_server" in " ".join(p.cmdline())
    ]
    kernels = voila.children(recursive=True)
    assert kernels
    folder = next(
        f for f in Path(tempfile.gettempdir()).glob("recsys-app-*")
        if (f / "server.pid").read_text() == str(proc.pid)
    )  # fmt: skip
    voila.kill()
    assert proc.wait(timeout=60) == 1  # the server sees Voila end, says so and ends too
    assert "error: the Voila server stopped (exit code -9)" in proc.log.read_text()
    gone, left = psutil.wait_procs(kernels, timeout=60)  # ipykernel's parent poller
    assert not left, [p.cmdline() for p in left]
    assert not folder.exists() and serve_mod.port_is_free(port)
