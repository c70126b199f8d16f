"""DonkeyCar tub v2 datasets: read several tubs into numpy arrays, write tubs DonkeyCar can load.

Layout of one tub folder (matches donkeycar/parts/datastore_v2.py and tub_v2.py):

- ``manifest.json``: 5 JSON lines: inputs (field names), types, user metadata (object),
  manifest metadata (``created_at``, ``sessions``), catalog metadata (``paths``, ``current_index``,
  ``max_len``, ``deleted_indexes``).
- ``catalog_N.catalog``: one JSON record per line, at most ``max_len`` (1,000) per file, each with
  ``_index``, ``_timestamp_ms``, ``_session_id`` and the input fields. Next to it
  ``catalog_N.catalog_manifest`` (one JSON line: path, created_at, start_index, line_lengths);
  DonkeyCar seeks lines with those lengths, so the writer keeps them exact.
- ``images/<index>_cam_image_array_.jpg``: the camera frame named by the record's ``cam/image_array``.

Deletion in DonkeyCar is soft: the record stays in its catalog and its index is listed in
``deleted_indexes``; the reader skips it.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwgen.errors import HwgenError

IMAGE_KEY = "cam/image_array"
ANGLE_KEY = "user/angle"
THROTTLE_KEY = "user/throttle"
MODE_KEY = "user/mode"
INPUTS = [IMAGE_KEY, ANGLE_KEY, THROTTLE_KEY, MODE_KEY]
TYPES = ["image_array", "float", "float", "str"]
CATALOG_MAX_LEN = 1000  # DonkeyCar's default records per catalog file
IMAGES_DIR = "images"

# Reasons a record is skipped by read_tubs (keys of Dataset.skipped).
SKIP_DELETED = "deleted"  # soft-deleted in manifest.json
SKIP_INVALID_JSON = "invalid_json"  # catalog line is not a JSON object
SKIP_MISSING_FIELD = "missing_field"  # no image name, or angle/throttle missing or not a number
SKIP_MISSING_IMAGE = "missing_image"  # image file does not exist
SKIP_UNREADABLE_IMAGE = "unreadable_image"  # image file exists but does not decode
SKIP_IMAGE_SIZE = "image_size_mismatch"  # resolution differs from the first frame loaded


@dataclass
class Dataset:
    """Frames and labels of one or more tubs, in catalog order (tub by tub).

    images: (N, H, W, 3) uint8 RGB at the camera resolution. angle: (N,) float32 in [-1, 1]
    (negative = left). throttle: (N,) float32. session: (N,) str,
    ``<tub folder name>/<_session_id>`` (one DonkeyCar recording session; one per episode for
    `hwgen data record`); the folder name keeps sessions of different tubs apart (DonkeyCar ids
    are date + counter, so two tubs recorded the same day share ids). mode: (N,) str (``user``, ``local_angle``, ...). tub: (N,) int,
    position of the record's tub in ``tubs``. index: (N,) int, the record's ``_index`` in its tub.
    skipped: reason -> count of records left out (see the SKIP_* constants).
    """

    images: np.ndarray
    angle: np.ndarray
    throttle: np.ndarray
    session: np.ndarray
    mode: np.ndarray
    tub: np.ndarray
    index: np.ndarray
    tubs: list[str]
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.angle)


def _json_lines(path: Path) -> list[str]:
    """Non-empty lines of a DonkeyCar JSON-lines file (written with '\\n', older versions '\\r\\n')."""
    text = path.read_text(encoding="utf-8")
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def read_manifest(tub: Path) -> dict:
    """The 5 lines of ``manifest.json`` as a dict: inputs, types, metadata, manifest_metadata, catalog."""
    path = tub / "manifest.json"
    if not tub.is_dir():
        raise HwgenError(f"{tub}: no such tub folder; pass a DonkeyCar tub v2 folder (with manifest.json)")
    if not path.is_file():
        raise HwgenError(f"{path}: missing; {tub} is not a DonkeyCar tub v2 folder")
    try:
        lines = _json_lines(path)
        parts = [json.loads(line) for line in lines[:5]]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HwgenError(f"{path}: unreadable ({err}); the tub is damaged, re-record or repair it") from None
    if len(parts) < 5 or not isinstance(parts[4], dict) or "paths" not in parts[4]:
        raise HwgenError(f"{path}: expected 5 JSON lines ending with catalog paths; the tub is damaged")
    names = ["inputs", "types", "metadata", "manifest_metadata", "catalog"]
    return dict(zip(names, parts))


def _load_image(path: Path) -> np.ndarray | None:
    """RGB uint8 array, or None when the file does not decode (truncated, not an image)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()  # decode now: a truncated JPEG only fails here
            return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, ValueError):
        return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def read_tubs(paths, progress: bool = False) -> Dataset:
    """Load one tub folder or a list of them into a Dataset (see Dataset for the arrays).

    Soft-deleted records, lines that are not JSON, records without image/angle/throttle, and
    records whose image is missing, unreadable or of another resolution than the first frame are
    skipped and counted in ``Dataset.skipped`` by reason. Raises HwgenError naming the path when a
    tub does not exist, its manifest or a listed catalog is unreadable, or it has no usable record.
    """
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise HwgenError("read_tubs: no tub given; pass at least one DonkeyCar tub folder")
    from tqdm import tqdm

    images, angle, throttle, session, mode, tub_of, index = [], [], [], [], [], [], []
    skipped: Counter = Counter()
    tubs = [str(Path(p)) for p in paths]
    for tub_number, tub_path in enumerate(Path(p) for p in paths):
        catalog = read_manifest(tub_path)["catalog"]
        deleted = set(catalog.get("deleted_indexes", []))
        usable_before = len(angle)
        position = 0  # DonkeyCar checks deletion by the record's position across catalogs
        for catalog_name in catalog["paths"]:
            catalog_path = tub_path / catalog_name
            try:
                lines = _json_lines(catalog_path)
            except (OSError, UnicodeDecodeError) as err:
                raise HwgenError(f"{catalog_path}: listed in manifest.json but unreadable ({err})") from None
            for line in tqdm(lines, desc=f"{tub_path.name}/{catalog_name}", disable=not progress, leave=False):
                this_position, position = position, position + 1
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    record = None
                record_index = record.get("_index", this_position) if isinstance(record, dict) else this_position
                if record_index in deleted:
                    skipped[SKIP_DELETED] += 1
                    continue
                if not isinstance(record, dict):
                    skipped[SKIP_INVALID_JSON] += 1
                    continue
                image_name = record.get(IMAGE_KEY)
                if not isinstance(image_name, str) or not all(
                    _is_number(record.get(key)) for key in (ANGLE_KEY, THROTTLE_KEY)
                ):
                    skipped[SKIP_MISSING_FIELD] += 1
                    continue
                image_path = tub_path / IMAGES_DIR / image_name
                if not image_path.is_file():
                    skipped[SKIP_MISSING_IMAGE] += 1
                    continue
                image = _load_image(image_path)
                if image is None:
                    skipped[SKIP_UNREADABLE_IMAGE] += 1
                    continue
                if images and image.shape != images[0].shape:
                    skipped[SKIP_IMAGE_SIZE] += 1
                    continue
                images.append(image)
                angle.append(record[ANGLE_KEY])
                throttle.append(record[THROTTLE_KEY])
                session.append(f"{tub_path.name}/{record.get('_session_id', '')}")
                mode.append(str(record.get(MODE_KEY, "user")))
                tub_of.append(tub_number)
                index.append(record_index)
        if len(angle) == usable_before:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(skipped.items())) or "no records"
            raise HwgenError(f"{tub_path}: tub has no usable record ({reasons}); record data or pick another tub")
    return Dataset(
        images=np.stack(images),
        angle=np.asarray(angle, dtype=np.float32),
        throttle=np.asarray(throttle, dtype=np.float32),
        session=np.asarray(session, dtype=str),
        mode=np.asarray(mode, dtype=str),
        tub=np.asarray(tub_of, dtype=np.int64),
        index=np.asarray(index, dtype=np.int64),
        tubs=tubs,
        skipped=dict(skipped),
    )


class TubWriter:
    """Write a new DonkeyCar tub v2 with the fields cam/image_array, user/angle, user/throttle, user/mode.

    ``with TubWriter(path) as tub: tub.write(image, angle, throttle)``. Sessions follow DonkeyCar
    (``YY-MM-DD_N``): the writer opens session 0; ``new_session()`` starts the next one (the
    recorder calls it once per episode). Images are saved as JPEG (``jpeg_quality``; DonkeyCar uses
    PIL's default 75, we default to 95 to keep labels' frames close to what a model sees live).
    The manifest and catalog manifests are rewritten when a catalog fills and at close.
    """

    def __init__(self, path, metadata: dict | None = None, jpeg_quality: int = 95,
                 max_catalog_len: int = CATALOG_MAX_LEN):
        self.path = Path(path)
        if (self.path / "manifest.json").exists():
            raise HwgenError(f"{self.path}: already holds a tub; choose a new folder")
        (self.path / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        self.metadata = dict(metadata or {})
        self.jpeg_quality = jpeg_quality
        self.max_catalog_len = max_catalog_len
        self.created_at = time.time()
        self.current_index = 0
        self.catalog_paths: list[str] = []
        self._catalog_file = None
        self._catalog_meta: dict = {}
        self._session_number = 0
        self._sessions_used: list[str] = []  # full ids of sessions that got at least one record
        self._date = time.strftime("%y-%m-%d")
        self._write_manifest()

    @property
    def session_id(self) -> str:
        """DonkeyCar-style id of the current session, written as each record's ``_session_id``."""
        return f"{self._date}_{self._session_number}"

    def new_session(self) -> str:
        """Start the next session (e.g. a new episode); returns its id."""
        if self.session_id in self._sessions_used:
            self._session_number += 1
        return self.session_id

    def write(self, image: np.ndarray, angle: float, throttle: float, mode: str = "user",
              timestamp_ms: int | None = None) -> int:
        """Append one record: image (H, W, 3) uint8 RGB, angle in [-1, 1], throttle. Returns its index."""
        from PIL import Image

        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise HwgenError(f"{self.path}: image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
        if not (_is_number(float(angle)) and _is_number(float(throttle))):
            raise HwgenError(f"{self.path}: angle and throttle must be finite numbers, got {angle}, {throttle}")
        if self._catalog_file is None or len(self._catalog_meta["line_lengths"]) >= self.max_catalog_len:
            self._start_catalog()
        name = f"{self.current_index}_{IMAGE_KEY.replace('/', '_')}_.jpg"
        Image.fromarray(image).save(self.path / IMAGES_DIR / name, quality=self.jpeg_quality)
        record = {
            IMAGE_KEY: name,
            ANGLE_KEY: float(angle),
            THROTTLE_KEY: float(throttle),
            MODE_KEY: str(mode),
            "_timestamp_ms": int(round(time.time() * 1000)) if timestamp_ms is None else int(timestamp_ms),
            "_index": self.current_index,
            "_session_id": self.session_id,
        }
        line = json.dumps(record, allow_nan=False, sort_keys=True) + "\n"
        self._catalog_file.write(line)
        self._catalog_meta["line_lengths"].append(len(line))
        if self.session_id not in self._sessions_used:
            self._sessions_used.append(self.session_id)
        self.current_index += 1
        return self.current_index - 1

    def _start_catalog(self) -> None:
        self._finish_catalog()
        name = f"catalog_{len(self.catalog_paths)}.catalog"
        self.catalog_paths.append(name)
        self._catalog_file = open(self.path / name, "w", encoding="utf-8", newline="\n")
        self._catalog_meta = {
            "path": f"catalog_{len(self.catalog_paths) - 1}.catalog_manifest",
            "created_at": time.time(),
            "start_index": self.current_index,
            "line_lengths": [],
        }
        self._write_manifest()

    def _finish_catalog(self) -> None:
        if self._catalog_file is None:
            return
        self._catalog_file.close()
        manifest_path = self.path / self._catalog_meta["path"]
        manifest_path.write_text(json.dumps(self._catalog_meta, allow_nan=False, sort_keys=True) + "\n")
        self._catalog_file = None

    def _write_manifest(self) -> None:
        sessions = {}
        if self._sessions_used:
            last = self._sessions_used[-1]
            sessions = {"all_full_ids": list(self._sessions_used), "last_id": int(last.rsplit("_", 1)[1]),
                        "last_full_id": last}
        manifest_metadata = {"created_at": self.created_at}
        if sessions:
            manifest_metadata["sessions"] = sessions
        catalog = {
            "paths": self.catalog_paths,
            "current_index": self.current_index,
            "max_len": self.max_catalog_len,
            "deleted_indexes": [],
        }
        lines = [INPUTS, TYPES, self.metadata, manifest_metadata, catalog]
        tmp = self.path / "manifest.json.tmp"
        tmp.write_text("".join(json.dumps(part) + "\n" for part in lines), encoding="utf-8")
        tmp.replace(self.path / "manifest.json")

    def close(self) -> None:
        """Finish the open catalog and write the final manifest. Safe to call twice."""
        if self._catalog_file is None and not self.catalog_paths:
            self._start_catalog()  # DonkeyCar always lists one catalog, even in an empty tub
        self._finish_catalog()
        self._write_manifest()

    def __enter__(self) -> "TubWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def summarize(data: Dataset) -> dict:
    """Numbers `hwgen data info` shows: frames, sessions, skipped records, class balance, label ranges."""
    from hwgen.data import CLASS_NAMES, STRAIGHT_MAX_ABS_ANGLE, steering_classes

    classes = np.bincount(steering_classes(data.angle), minlength=len(CLASS_NAMES))
    sessions, per_session = np.unique(data.session, return_counts=True)

    def stats(values: np.ndarray) -> dict:
        return {k: round(float(f(values)), 4) for k, f in
                (("min", np.min), ("max", np.max), ("mean", np.mean), ("std", np.std))}

    return {
        "tubs": data.tubs,
        "frames": len(data),
        "image_hwc": list(data.images.shape[1:]),
        "sessions": {str(s): int(c) for s, c in zip(sessions, per_session)},
        "skipped": dict(sorted(data.skipped.items())),
        "classes": {
            "straight_max_abs_angle": STRAIGHT_MAX_ABS_ANGLE,
            **{name: {"frames": int(count), "fraction": round(float(count) / len(data), 4)}
               for name, count in zip(CLASS_NAMES, classes)},
        },
        "angle": stats(data.angle),
        "throttle": stats(data.throttle),
        "modes": {str(m): int(c) for m, c in zip(*np.unique(data.mode, return_counts=True))},
    }
