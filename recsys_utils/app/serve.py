"""``make demo``: the recommendation app (notebook 06's widgets) served live as a web page.

``python -m recsys_utils.app.serve [--checkpoint STEM] [--port 8866] [--max-sessions 4]
[--idle-timeout 600] [--allow-host NAME]`` loads the checkpoint (default ``ranking``, the
ranking model; ``models.recipes.ensure_checkpoint`` trains and saves it first when it is
missing, and says so) and checks it here, in the server process, against the data set's
movies, so a bad checkpoint is one line and exit 2 before anything is served. It then
writes a one-cell notebook that builds ``widgets.RecommenderApp`` on it and serves that
notebook with Voila on 127.0.0.1 only, through ``app._voila_server``: Host and Origin
checked, a token (in the printed address, then a ``SameSite=Strict`` cookie), one kernel
per browser session, at most ``--max-sessions`` at once, idle ones culled.

Ctrl-C or SIGTERM stops the server and removes the notebook's folder. If this process is
killed outright (SIGKILL), the kernel sends Voila SIGTERM (``PR_SET_PDEATHSIG``), Voila
shuts its kernels down, and the next start removes the folder left behind.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from recsys_utils.constants import DEFAULT_DATASET, get_spec
from recsys_utils.models.recipes import DEFAULT_CHECKPOINT as DEFAULT_STEM
from recsys_utils.models.recipes import ensure_checkpoint

DEFAULT_PORT = 8866
HOST = "127.0.0.1"
CHECKPOINT_ENV = "RECSYS_APP_CHECKPOINT"
TOKEN_ENV = "RECSYS_APP_TOKEN"  # read (and removed) by app._voila_server
_FOLDER_PREFIX = "recsys-app-"
_OWNER_FILE = "server.pid"

_APP_CELL = """\
import os
from IPython.display import display
from recsys_utils import data
from recsys_utils.app import widgets
from recsys_utils.models import checkpoints

model = checkpoints.load(os.environ["{env}"])
dataset = (model.checkpoint_meta_ or {{}}).get("dataset") or "{dataset}"
ds = data.load_dataset(dataset)
app = widgets.RecommenderApp(model, ds.movies, ds.ratings, k=10, min_ratings=10)
app.tabs.selected_index = 1
display(app.widget)
"""


def _write_app_notebook(folder: Path, dataset: str = DEFAULT_DATASET) -> Path:
    """The one-cell notebook Voila serves (the checkpoint comes from ``$RECSYS_APP_CHECKPOINT``)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(_APP_CELL.format(env=CHECKPOINT_ENV, dataset=dataset))]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / "recommendation_app.ipynb"
    nbformat.write(nb, path)
    return path


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) != 0


def _voila_command(
    notebook: Path,
    port: int,
    max_sessions: int = 4,
    idle_timeout: float = 600,
    allow_hosts: tuple[str, ...] = (),
) -> list[str]:
    """The guarded Voila server for ``notebook`` on 127.0.0.1:``port``, no browser opened.

    A kernel with no open connection is culled after ``idle_timeout`` seconds idle
    (checked every ``min(60, idle_timeout / 2)`` seconds).
    """
    interval = max(1, int(min(60, idle_timeout / 2)))
    return [
        sys.executable,
        "-m",
        "recsys_utils.app._voila_server",
        str(notebook),
        f"--port={port}",
        f"--Voila.ip={HOST}",
        "--Voila.port_retries=0",
        "--no-browser",
        "--VoilaConfiguration.show_tracebacks=True",
        f"--SessionKernelManager.max_sessions={max_sessions}",
        f"--MappingKernelManager.cull_idle_timeout={int(idle_timeout)}",
        f"--MappingKernelManager.cull_interval={interval}",
        "--MappingKernelManager.cull_connected=False",
        *(f"--GuardedVoila.allow_hosts={h}" for h in allow_hosts),
    ]


def _interrupt(*_):
    raise KeyboardInterrupt


def _die_with_parent():  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: SIGTERM when this server dies
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_folders(root: Path | None = None) -> list[Path]:
    """Remove the notebook folders of app servers that were killed (their pid is gone)."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    for folder in root.glob(f"{_FOLDER_PREFIX}*"):
        owner = folder / _OWNER_FILE
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if not folder.is_dir() or folder.is_symlink() or (pid is not None and _pid_alive(pid)):
            continue
        if pid is None and owner.exists():
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _check_checkpoint(sidecar: Path, dataset: str):
    """Load the checkpoint here and check it against ``dataset``'s movies.

    Raises:
        CheckpointError: the checkpoint is unreadable, altered, or does not fit the data.
    """
    from recsys_utils import data
    from recsys_utils.models import checkpoints

    model = checkpoints.load(sidecar)
    trained_on = (model.checkpoint_meta_ or {}).get("dataset") or dataset
    checkpoints.check_items(model, data.load_dataset(trained_on).movies["item_id"])
    return model


def serve(
    stem: str = DEFAULT_STEM,
    port: int = DEFAULT_PORT,
    dataset: str = DEFAULT_DATASET,
    *,
    max_sessions: int = 4,
    idle_timeout: float = 600,
    allow_hosts: tuple[str, ...] = (),
):
    """Train the checkpoint if needed, check it, then serve the app until Ctrl-C (or SIGTERM)."""
    if not 1 <= port <= 65535:
        raise ValueError(f"--port must be 1 to 65535, got {port}")
    get_spec(dataset)  # an unknown data set: one line listing the known ones
    if max_sessions < 1:
        raise ValueError(f"--max-sessions must be at least 1, got {max_sessions}")
    if not idle_timeout >= 1:
        raise ValueError(f"--idle-timeout must be at least 1 second, got {idle_timeout}")
    _remove_stale_folders()
    if not port_is_free(port):
        raise ValueError(f"port {port} on {HOST} is in use: pass --port")
    sidecar = ensure_checkpoint(stem, dataset)
    _check_checkpoint(sidecar, dataset)
    token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
    folder = Path(tempfile.mkdtemp(prefix=_FOLDER_PREFIX))
    try:
        (folder / _OWNER_FILE).write_text(str(os.getpid()))
        notebook = _write_app_notebook(folder, dataset)
        env = {**os.environ, CHECKPOINT_ENV: str(Path(sidecar).resolve()), TOKEN_ENV: token}
        command = _voila_command(notebook, port, max_sessions, idle_timeout, allow_hosts)
        server = subprocess.Popen(command, env=env, cwd=folder, preexec_fn=_die_with_parent)
        print(
            f"serving the recommendation app ({Path(sidecar).name}) at "
            f"http://{HOST}:{port}/?token={token} - Ctrl-C stops it",
            flush=True,
        )
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            code = server.wait()
            if code != 0:  # killed, or failed to start: its log is above
                print(f"error: the Voila server stopped (exit code {code})", file=sys.stderr)
                return 1
            return code
        except KeyboardInterrupt:
            print("stopping the app server", flush=True)
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recsys_utils.app.serve", description="Serve the recommendation app live."
    )
    parser.add_argument("--checkpoint", default=DEFAULT_STEM, help="stem or sidecar path")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--dataset", default=DEFAULT_DATASET)
    parser.add_argument(
        "--max-sessions", type=int, default=4, help="browser sessions (kernels) at once"
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=600, help="seconds before an idle kernel is culled"
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        help="a host name to serve besides 127.0.0.1/localhost (e.g. behind a proxy)",
    )
    args = parser.parse_args(argv)
    try:
        return int(
            serve(
                args.checkpoint,
                args.port,
                args.dataset,
                max_sessions=args.max_sessions,
                idle_timeout=args.idle_timeout,
                allow_hosts=tuple(args.allow_host),
            )
            or 0
        )
    except (ValueError, KeyError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
