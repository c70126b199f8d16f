"""DonkeyCar tub v2: round trip, corrupt records, errors, pre-processing and steering classes."""
import json

import numpy as np
import pytest

from hwgen.data import LEFT, RIGHT, STRAIGHT, STRAIGHT_MAX_ABS_ANGLE, steering_class, steering_classes
from hwgen.data.frames import to_model_input
from hwgen.data.tub import (
    SKIP_DELETED,
    SKIP_IMAGE_SIZE,
    SKIP_INVALID_JSON,
    SKIP_MISSING_FIELD,
    SKIP_MISSING_IMAGE,
    SKIP_UNREADABLE_IMAGE,
    TubWriter,
    read_tubs,
)
from hwgen.errors import HwgenError


def smooth_frames(count, height=48, width=64, seed=0):
    """Low-frequency frames (JPEG keeps them close) that differ from each other."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for _ in range(count):
        phase = rng.uniform(0, 2 * np.pi, 3)
        channels = [127 + 100 * np.sin(x / 9 + y / 13 + p) for p in phase]
        frames.append(np.stack(channels, axis=-1).astype(np.uint8))
    return np.stack(frames)


def write_tub(path, frames, angles, throttles, **writer_options):
    with TubWriter(path, **writer_options) as tub:
        for frame, angle, throttle in zip(frames, angles, throttles):
            tub.write(frame, angle, throttle)


def test_round_trip_keeps_labels_exact_and_images_close(tmp_path):
    frames = smooth_frames(7)
    angles = [-1.0, -0.35, 0.0, 0.123456789, 0.5, 0.75, 1.0]
    throttles = [0.0, 0.1, 0.2, 0.3, 0.4, 0.55, 1.0]
    write_tub(tmp_path / "tub", frames, angles, throttles, max_catalog_len=3)

    data = read_tubs(tmp_path / "tub")
    assert len(data) == 7
    assert data.images.shape == frames.shape and data.images.dtype == np.uint8
    assert np.array_equal(data.angle, np.asarray(angles, dtype=np.float32))
    assert np.array_equal(data.throttle, np.asarray(throttles, dtype=np.float32))
    error = np.abs(data.images.astype(int) - frames.astype(int))
    assert error.mean() < 2.0
    assert not data.skipped
    # 7 records at 3 per catalog -> 3 catalog files, each with DonkeyCar's catalog manifest
    manifest_lines = (tmp_path / "tub" / "manifest.json").read_text().splitlines()
    assert len(manifest_lines) == 5
    catalog = json.loads(manifest_lines[4])
    assert catalog["paths"] == ["catalog_0.catalog", "catalog_1.catalog", "catalog_2.catalog"]
    assert catalog["current_index"] == 7


def test_catalog_manifest_line_lengths_match_the_file(tmp_path):
    # DonkeyCar seeks catalog lines by these lengths, so they must be exact
    write_tub(tmp_path / "tub", smooth_frames(4), [0.1] * 4, [0.5] * 4)
    catalog_bytes = (tmp_path / "tub" / "catalog_0.catalog").read_bytes()
    meta = json.loads((tmp_path / "tub" / "catalog_0.catalog_manifest").read_text())
    assert meta["start_index"] == 0
    assert meta["line_lengths"] == [len(line) + 1 for line in catalog_bytes.split(b"\n")[:-1]]
    first = json.loads(catalog_bytes.split(b"\n")[0])
    assert first["cam/image_array"] == "0_cam_image_array_.jpg"
    assert (tmp_path / "tub" / "images" / "0_cam_image_array_.jpg").is_file()


def test_sessions_split_records(tmp_path):
    with TubWriter(tmp_path / "tub") as tub:
        for episode in range(3):
            if episode:
                tub.new_session()
            for frame in smooth_frames(2, seed=episode):
                tub.write(frame, 0.0, 0.5)
    data = read_tubs(tmp_path / "tub")
    assert len(np.unique(data.session)) == 3
    assert list(data.session[:2]) == [data.session[0]] * 2 and data.session[2] != data.session[0]
    sessions = json.loads((tmp_path / "tub" / "manifest.json").read_text().splitlines()[3])["sessions"]
    assert [f"tub/{full_id}" for full_id in sessions["all_full_ids"]] == list(dict.fromkeys(data.session))


def test_corrupt_records_are_skipped_and_counted(tmp_path):
    from PIL import Image

    tub = tmp_path / "tub"
    write_tub(tub, smooth_frames(10), np.linspace(-1, 1, 10), [0.5] * 10)
    images = tub / "images"
    (images / "1_cam_image_array_.jpg").unlink()  # missing image
    jpeg = (images / "2_cam_image_array_.jpg").read_bytes()
    (images / "2_cam_image_array_.jpg").write_bytes(jpeg[: len(jpeg) // 3])  # truncated JPEG
    (images / "3_cam_image_array_.jpg").write_bytes(b"not a jpeg at all")  # not an image
    catalog_path = tub / "catalog_0.catalog"
    lines = catalog_path.read_text().splitlines()
    lines[4] = lines[4][:20]  # invalid JSON line
    record = json.loads(lines[8])
    del record["user/angle"]
    lines[8] = json.dumps(record)  # no label
    Image.fromarray(smooth_frames(1, 24, 32)[0]).save(images / "9_cam_image_array_.jpg")  # other size
    catalog_path.write_text("\n".join(lines) + "\n")
    manifest_path = tub / "manifest.json"
    manifest = manifest_path.read_text().splitlines()
    catalog = json.loads(manifest[4])
    catalog["deleted_indexes"] = [6]  # soft delete, as DonkeyCar's tub cleaner does
    manifest[4] = json.dumps(catalog)
    manifest_path.write_text("\n".join(manifest) + "\n")

    data = read_tubs(tub)
    assert data.skipped == {SKIP_MISSING_IMAGE: 1, SKIP_UNREADABLE_IMAGE: 2, SKIP_INVALID_JSON: 1,
                            SKIP_DELETED: 1, SKIP_MISSING_FIELD: 1, SKIP_IMAGE_SIZE: 1}
    assert list(data.index) == [0, 5, 7]
    assert np.array_equal(data.angle, np.linspace(-1, 1, 10).astype(np.float32)[[0, 5, 7]])


def test_several_tubs_combine_in_order(tmp_path):
    write_tub(tmp_path / "a", smooth_frames(2), [0.1, 0.2], [0.5, 0.5])
    write_tub(tmp_path / "b", smooth_frames(3, seed=1), [-0.1, -0.2, -0.3], [0.4] * 3)
    data = read_tubs([tmp_path / "a", tmp_path / "b"])
    assert np.allclose(data.angle, [0.1, 0.2, -0.1, -0.2, -0.3])
    assert list(data.tub) == [0, 0, 1, 1, 1]
    # both tubs have DonkeyCar session 0 of today: the tub name keeps them apart
    assert len(set(data.session)) == 2


def test_reads_a_donkeycar_written_tub_with_crlf_lines(tmp_path):
    # Older DonkeyCar (datastore_v2 with NEWLINE = '\r\n') wrote CRLF lines and a session-less record.
    from PIL import Image

    tub = tmp_path / "old"
    (tub / "images").mkdir(parents=True)
    Image.fromarray(smooth_frames(1, 120, 160)[0]).save(tub / "images" / "0_cam_image_array_.jpg")
    record = {"_index": 0, "_timestamp_ms": 1, "cam/image_array": "0_cam_image_array_.jpg",
              "user/angle": -0.25, "user/mode": "user", "user/throttle": 0.3}
    (tub / "catalog_0.catalog").write_bytes(json.dumps(record, sort_keys=True).encode() + b"\r\n")
    manifest = [["cam/image_array", "user/angle", "user/throttle", "user/mode"],
                ["image_array", "float", "float", "str"], {}, {"created_at": 1.0},
                {"paths": ["catalog_0.catalog"], "current_index": 1, "max_len": 1000, "deleted_indexes": []}]
    (tub / "manifest.json").write_bytes(b"".join(json.dumps(m).encode() + b"\r\n" for m in manifest))
    data = read_tubs(tub)
    assert data.images.shape == (1, 120, 160, 3)
    assert data.angle[0] == np.float32(-0.25) and data.session[0] == "old/"


def test_nonexistent_and_empty_tubs_name_the_path(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(HwgenError, match=str(missing)):
        read_tubs(missing)
    (tmp_path / "not_a_tub").mkdir()
    with pytest.raises(HwgenError, match="not_a_tub"):
        read_tubs(tmp_path / "not_a_tub")
    TubWriter(tmp_path / "empty").close()
    with pytest.raises(HwgenError, match="empty.*no usable record"):
        read_tubs(tmp_path / "empty")


def test_damaged_manifest_or_missing_catalog_is_an_error_naming_the_file(tmp_path):
    write_tub(tmp_path / "tub", smooth_frames(2), [0.0, 0.0], [0.5, 0.5])
    (tmp_path / "tub" / "catalog_0.catalog").unlink()
    with pytest.raises(HwgenError, match="catalog_0.catalog: listed in manifest.json but unreadable"):
        read_tubs(tmp_path / "tub")
    (tmp_path / "tub" / "manifest.json").write_text('["cam/image_array"]\n{broken\n')
    with pytest.raises(HwgenError, match="manifest.json: unreadable"):
        read_tubs(tmp_path / "tub")


def test_writer_refuses_an_existing_tub(tmp_path):
    TubWriter(tmp_path / "tub").close()
    with pytest.raises(HwgenError, match="already holds a tub"):
        TubWriter(tmp_path / "tub")


def test_to_model_input_crops_resizes_and_keeps_uint8():
    frames = np.zeros((2, 96, 96, 3), dtype=np.uint8)
    frames[:, :30] = 255  # bright "sky" rows that the crop must remove
    frames[:, :, :, 1] = 40
    out = to_model_input(frames, (66, 200), crop_top=30)
    assert out.shape == (2, 3, 66, 200) and out.dtype == np.uint8
    assert out[:, 0].max() == 0 and np.all(out[:, 1] == 40)
    single = to_model_input(frames[0], (32, 32), crop_top=30)
    assert single.shape == (3, 32, 32)
    # a frame already at the input size passes through untouched (only reordered to CHW)
    same = to_model_input(frames[:, 30:], (66, 96), crop_top=0)
    assert np.array_equal(same, frames[:, 30:].transpose(0, 3, 1, 2))
    with pytest.raises(HwgenError, match="crop"):
        to_model_input(frames, (10, 10), crop_top=96)


def test_steering_class_thresholds():
    t = STRAIGHT_MAX_ABS_ANGLE
    assert [steering_class(a) for a in (-1.0, -t - 1e-6, -t, 0.0, t, t + 1e-6, 1.0)] == [
        LEFT, LEFT, STRAIGHT, STRAIGHT, STRAIGHT, RIGHT, RIGHT]
    angles = np.array([-0.9, 0.05, 0.4])
    assert list(steering_classes(angles)) == [LEFT, STRAIGHT, RIGHT]
