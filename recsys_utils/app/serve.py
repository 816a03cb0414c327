"""``make demo``: the recommendation app (notebook 06's widgets) served live as a web page.

``python -m recsys_utils.app.serve [--checkpoint STEM] [--port 8866]`` loads the
checkpoint (default ``ranking``, the ranking model; ``app.demo.ensure_checkpoint`` trains
and saves it first when it is missing, and says so), writes a
one-cell notebook that builds ``widgets.RecommenderApp`` on it, and serves that notebook
with Voila on 127.0.0.1 only. Voila runs the notebook in a kernel of this Python and
shows the widgets without the code. Ctrl-C stops the server and removes the notebook.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from recsys_utils.app.demo import DEFAULT_CHECKPOINT as DEFAULT_STEM
from recsys_utils.app.demo import ensure_checkpoint
from recsys_utils.constants import DEFAULT_DATASET

DEFAULT_PORT = 8866
HOST = "127.0.0.1"
CHECKPOINT_ENV = "RECSYS_APP_CHECKPOINT"

APP_CELL = """\
import os
from IPython.display import display
from recsys_utils import data
from recsys_utils.app import widgets
from recsys_utils.models import checkpoints

model = checkpoints.load(os.environ["{env}"])
dataset = (getattr(model, "checkpoint_meta_", {{}}) or {{}}).get("dataset") or "{dataset}"
ds = data.load_dataset(dataset)
app = widgets.RecommenderApp(model, ds.movies, ds.ratings, k=10, min_ratings=10)
app.tabs.selected_index = 1
display(app.widget)
"""


def write_app_notebook(folder: Path, dataset: str = DEFAULT_DATASET) -> Path:
    """The one-cell notebook Voila serves (the checkpoint comes from ``$RECSYS_APP_CHECKPOINT``)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(APP_CELL.format(env=CHECKPOINT_ENV, dataset=dataset))]
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


def voila_command(notebook: Path, port: int) -> list[str]:
    """The Voila server for ``notebook`` on 127.0.0.1:``port``, no browser opened."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        f"--port={port}",
        f"--Voila.ip={HOST}",
        "--no-browser",
        "--VoilaConfiguration.show_tracebacks=True",
    ]


def _interrupt(*_):
    raise KeyboardInterrupt


def serve(stem: str = DEFAULT_STEM, port: int = DEFAULT_PORT, dataset: str = DEFAULT_DATASET):
    """Train the checkpoint if needed, then serve the app until Ctrl-C (or SIGTERM)."""
    if not port_is_free(port):
        raise ValueError(f"port {port} on {HOST} is in use: pass --port")
    sidecar = ensure_checkpoint(stem, dataset)
    folder = Path(tempfile.mkdtemp(prefix="recsys-app-"))
    try:
        notebook = write_app_notebook(folder, dataset)
        env = {**os.environ, CHECKPOINT_ENV: str(Path(sidecar).resolve())}
        server = subprocess.Popen(voila_command(notebook, port), env=env, cwd=folder)
        print(
            f"serving the recommendation app ({Path(sidecar).name}) at http://{HOST}:{port}/ "
            "- Ctrl-C stops it",
            flush=True,
        )
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            return server.wait()
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
    args = parser.parse_args(argv)
    try:
        return int(serve(args.checkpoint, args.port, args.dataset) or 0)
    except (ValueError, KeyError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
