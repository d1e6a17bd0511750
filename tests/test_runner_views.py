"""Views and the other tasks: media helpers (frames in every dataset's naming, EMG, meshes), read-only samples, and
harness runs on spotting, AU detection and EMG-interval protocols with what each test view hides."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import test_runner_support as support
from mebench.errors import InputError
from mebench.protocol import load_protocol
from mebench.protocol import Selection
from mebench.runner import canonical_predictions, run_protocol
from mebench.views import LabelsHidden, MediaContext, ProtocolFacts, View, frame_number


def facts(pid: str = "casme2-loso-5class") -> ProtocolFacts:
    return ProtocolFacts.of(load_protocol(pid))


# ------------------------------------------------------------------------------------------------------ media


@pytest.mark.parametrize("names, expected", [
    (["img10.jpg", "img2.jpg", "img1.jpg", "notes.txt"], [1, 2, 10]),          # CASME II / CAS(ME)^2
    (["006_00101.jpg", "006_00099.jpg", "006_00100.jpg"], [99, 100, 101]),     # SAMM <subject>_<frame:05d>
    (["reg_img3.jpg", "reg_img12.jpg", "reg_img1.jpg"], [1, 3, 12]),          # CASME II cropped
])
def test_frames_are_read_in_numeric_order(tmp_path, names, expected):
    folder = support.write_frames(tmp_path / "clip", [n for n in names if n.endswith(".jpg")])
    (folder / "notes.txt").write_text("not a frame")
    view = View(pd.DataFrame({"sample_id": ["d/s/c"], "frames_dir": [str(folder)]}), role="test",
                protocol=facts())
    assert [n for n, _ in view.frame_paths(0)] == expected
    frames = view.frames(0)
    assert frames.shape == (len(expected), 6, 8, 3) and frames.dtype == np.uint8
    assert view.frames("d/s/c", start=expected[1], stop=expected[1], gray=True).shape == (1, 6, 8)
    assert [n for n, _ in view.frame_paths(view.samples.iloc[0], start=expected[1])] == expected[1:]
    assert frame_number("006_00123.jpg") == 123 and frame_number("x.jpg") is None


def test_media_errors_are_clear(tmp_path):
    view = View(pd.DataFrame({"sample_id": ["d/s/c"], "frames_dir": [None], "mesh_dir": [str(tmp_path / "no")]}),
                role="test", protocol=facts())
    with pytest.raises(InputError, match="no frames_dir"):
        view.frames(0)
    with pytest.raises(InputError, match="media folder not found"):
        view.mesh(0, 1)
    with pytest.raises(InputError, match="no EMG table"):
        View(pd.DataFrame({"sample_id": ["x"], "dataset": ["casmemg"], "video_id": ["01/1"]}), role="test",
             protocol=facts(), media=MediaContext(tmp_path)).emg(0)


def test_mesh_of_a_frame(tmp_path):
    import trimesh

    folder = tmp_path / "mesh"
    folder.mkdir()
    for i in (1, 2, 3):
        trimesh.creation.box(extents=(i, 1, 1)).export(folder / f"frame_{i:04d}.obj")
    view = View(pd.DataFrame({"sample_id": ["4dme/01/c"], "mesh_dir": [str(folder)]}), role="test",
                protocol=facts())
    mesh = view.mesh(0, 2)
    assert mesh.extents[0] == pytest.approx(2.0)
    with pytest.raises(InputError, match=r"no mesh for frame 9 \(frames present: 1..3\)"):
        view.mesh(0, 9)


def test_samples_are_read_only_copies_and_test_labels_do_not_exist():
    samples = pd.DataFrame({"sample_id": ["a", "b"], "aus": [np.array([1, 2], np.int16), np.array([4], np.int16)],
                            "au_codes": [np.array([{"au": 1}], dtype=object), np.array([], dtype=object)],
                            "emotion": ["happiness", "disgust"]})
    train = View(samples, role="train", protocol=facts(), labels=pd.Series(["happiness", "disgust"]))
    first = train.samples
    first.loc[0, "sample_id"] = "changed"
    first["new"] = 1
    first["au_codes"].iloc[0][0]["au"] = 99
    with pytest.raises(ValueError):
        first["aus"].iloc[0][0] = 7
    again = train.samples
    assert again.loc[0, "sample_id"] == "a" and "new" not in again.columns
    assert again["au_codes"].iloc[0][0]["au"] == 1 and list(again["aus"].iloc[0]) == [1, 2]
    assert samples["aus"].iloc[0].flags.writeable  # the caller's frame is untouched
    assert train.labels.index.equals(again.index) and train.labels.tolist() == ["happiness", "disgust"]
    test = View(samples, role="test", protocol=facts(), hidden=["emotion"])
    assert "emotion" not in test.samples.columns and not hasattr(test, "labels")
    with pytest.raises(LabelsHidden, match="never gives a model the test fold's labels"):
        test.labels


# ------------------------------------------------------------------------------------------------------ other tasks


def test_spotting_run_gives_videos_and_intervals(tmp_path):
    samples, videos = [], []
    for p, (subject, video) in enumerate((("s15", "15_0101"), ("s16", "16_0101"), ("s17", "17_0101"))):
        frames = support.write_frames(tmp_path / "media" / video, ["img1.jpg", "img2.jpg"])
        samples += [
            {"dataset": "casme-sq", "subject_raw": subject, "clip": f"disgust1_{p}", "video_id": video, "onset": 10,
             "apex": 12, "offset": 14, "fps": 30.0, "expression_type": "micro", "aus": [4]},
            {"dataset": "casme-sq", "subject_raw": subject, "clip": f"disgust1_{p}b", "video_id": video,
             "onset": 100, "apex": 130, "offset": 160, "fps": 30.0, "expression_type": "macro", "aus": [12]},
        ]
        videos.append({"video_id": video, "dataset": "casme-sq", "subject": f"casme-sq/{subject}",
                       "person": f"casme-sq/{subject}", "fps": 30.0, "n_frames": 300, "frames_dir": str(frames),
                       "video_path": None})
    corpus = support.write_corpus(tmp_path / "c", samples, pd.DataFrame(videos))
    support.SpotProbe.log.clear()
    record = run_protocol("casme-sq-spotting", corpus, "test_runner_support:SpotProbe", cache=tmp_path / "cache",
                          progress=False).record
    metrics = record["metrics"]
    assert (metrics["micro"]["tp"], metrics["macro"]["fn"], metrics["overall"]["fp"]) == (3, 3, 0)
    assert [f["test"] for f in record["per_fold"]] == [["casme-sq/s15"], ["casme-sq/s16"], ["casme-sq/s17"]]
    trains = [e for e in support.SpotProbe.log if e["role"] == "train"]
    tests = [e for e in support.SpotProbe.log if e["role"] == "test"]
    assert len(trains) == len(tests) == 3
    for train, test in zip(trains, tests):
        assert train["label_videos"] == sorted(train["videos"]) and len(train["videos"]) == 2
        assert train["label_columns"] == ["video_id", "onset", "offset", "expression_type", "sample_id"]
        assert "aus" in train["annotation_columns"]
        assert len(test["videos"]) == 1 and test["videos"][0] not in train["videos"]
        assert "frames_dir" in test["columns"] and "n_frames" in test["columns"]
        assert not {"onset", "offset", "gt_onset", "aus", "expression_type"} & set(test["columns"])
        assert test["has_labels"] is False and test["annotations"] is None


def test_au_detection_hides_the_aus_and_takes_matrix_or_tuples(tmp_path):
    rows = [{"dataset": d, "subject_raw": f"{s}", "clip": f"c{i}", "aus": [12, 1] if i else [4],
             "emotion": "happiness" if i else "disgust"}
            for d in ("casme2", "samm") for s in range(2) for i in range(3)]
    corpus = support.write_corpus(tmp_path / "c", rows)
    support.AuProbe.log.clear()
    matrix = run_protocol("merged-lodo-au12", corpus, "test_runner_support:AuProbe", cache=tmp_path / "cache",
                          progress=False).record
    tuples = run_protocol("merged-lodo-au12", corpus, "test_runner_support:AuProbe", params={"form": "tuples"},
                          cache=tmp_path / "cache", progress=False).record
    assert matrix["metrics"] == tuples["metrics"]
    per_label = matrix["metrics"]["per_label"]  # AU1 and AU12 always predicted (in 2 of 3 clips), AU4 never
    assert (per_label["AU12"]["f1"], per_label["AU1"]["f1"], per_label["AU4"]["f1"]) == (0.8, 0.8, 0.0)
    for entry in support.AuProbe.log:
        assert not {"aus", "au_codes", "au_raw", "emotion", "emotions", "emo_4dme", "emo_basic6"} & \
            set(entry["columns"])
    assert tuples["submission"]["model"]["params"] == {"form": "tuples"}
    assert matrix["details"]["harness"]["test_view"]["ground_truth_aus_visible"] is False


def test_emg_recordings_come_back_from_the_corpus_table_as_written(tmp_path):
    import pyarrow.parquet as pq

    from mebench.loaders.casmemg import emg_table, read_emg, write_emg_file

    rows = []
    for s, gaps in ((1, 0), (2, 5)):  # recording 2 had marker rows dropped: its own clock is kept
        path = tmp_path / f"{s}.csv"
        write_emg_file(path, n_samples=600, seed=s, marker_gaps=gaps)
        rows.append({"dataset": "casmemg", "video_id": f"{s:02d}/1", "subject": f"casmemg/{s:02d}",
                     "subject_raw": f"{s:02d}", "clip": "1", "emg_path": str(path)})
    pq.write_table(emg_table(rows), tmp_path / "emg.parquet")
    media = MediaContext(tmp_path)
    for row in rows:
        written = read_emg(row["emg_path"])
        got = media.emg_recording("casmemg", row["video_id"])
        assert got.channels == tuple(f"ch{k}" for k in range(1, 9)) and got.sampling_rate == 1000.0
        assert got.signals.dtype == np.float32 and np.array_equal(got.signals, written.channels)
        if written.dropped_marker_rows:
            assert written.dropped_marker_rows == 5 and np.array_equal(got.times, written.time)
        else:
            assert np.allclose(got.times, 0.2 + np.arange(len(written.channels)) / 1000.0)
        assert media.emg_recording("casmemg", row["video_id"]) is got  # read once per context
    with pytest.raises(InputError, match="no EMG recording"):
        media.emg_recording("casmemg", "09/1")


def test_emg_interval_reads_the_signal_and_flags_the_window(tmp_path):
    from mebench.loaders.casmemg import emg_table, write_emg_file

    rows = []
    for s in (1, 2):
        write_emg_file(tmp_path / "emg" / f"{s:02d}" / "1.csv", n_samples=3000, seed=s)
        for i in range(2):
            rows.append({"dataset": "casmemg", "subject_raw": f"{s:02d}", "clip": f"1#{i + 1}",
                         "video_id": f"{s:02d}/1", "emg_onset_s": 1.0 + i, "emg_offset_s": 1.3 + i,
                         "onset_s": 5.0, "offset_s": 5.3, "emg_path": str(tmp_path / "emg" / f"{s:02d}" / "1.csv")})
    table_rows = [{**r, "subject": f"casmemg/{r['subject_raw']}"} for r in rows[::2]]
    corpus = support.write_corpus(tmp_path / "c", rows, tables={"emg": emg_table(table_rows)})
    support.EmgProbe.log.clear()
    record = run_protocol("casmemg-emg-interval", corpus, "test_runner_support:EmgProbe", cache=tmp_path / "cache",
                          progress=False).record
    assert record["metrics"]["n_nan"] == 0 and record["metrics"]["mean_iou"] == pytest.approx(0.3 / 0.65,
                                                                                              abs=0.01)
    for entry in support.EmgProbe.log:
        assert entry["shape"][1] == 8 and 1000 < entry["shape"][0] < 1400
        assert "clip_start_s" in entry["columns"]
        assert not {"emg_onset_s", "emg_offset_s", "gt_onset_s", "onset_s", "offset_s"} & set(entry["columns"])
    notes = record["details"]["harness"]["test_view"]["notes"]
    assert any("gives the annotation away" in n for n in notes)


# ------------------------------------------------------------------------------------------------- prediction forms


def test_prediction_forms_are_checked_like_a_predictions_file():
    protocol = load_protocol("casme2-loso-5class")
    selection = Selection(pd.DataFrame({"sample_id": ["a", "b", "c"]}), pd.DataFrame(), None)
    for raw in (["happiness", "Others ", "surprise"], np.array(["happiness", "others", "surprise"]),
                pd.Series(["happiness", "others", "surprise"], index=[7, 8, 9]),
                pd.DataFrame({"label": ["happiness", "others", "surprise"]})):
        out = canonical_predictions(protocol, selection, raw)
        assert out["label"].tolist() == ["happiness", "others", "surprise"]
        assert out["sample_id"].tolist() == ["a", "b", "c"]
    reordered = pd.DataFrame({"sample_id": ["c", "a", "b"], "label": ["surprise", "happiness", "others"]})
    assert canonical_predictions(protocol, selection, reordered)["label"].tolist() == ["happiness", "others",
                                                                                       "surprise"]
    with pytest.raises(InputError, match="predict returned 2 predictions for the fold's 3 test samples"):
        canonical_predictions(protocol, selection, ["happiness"] * 2, fold=4)
    with pytest.raises(InputError, match=r"fold 4: invalid predictions .* row 2: label is empty"):
        canonical_predictions(protocol, selection, ["happiness", None, "others"], fold=4)
    with pytest.raises(InputError, match="expected one prediction per test row"):
        canonical_predictions(protocol, selection, "happiness")
    multi = load_protocol("4dme-5fold-emotion")
    out = canonical_predictions(multi, selection, [("positive", "surprise"), (), "negative"])
    assert out[multi.classes].to_numpy().tolist() == [[0, 0, 1, 0, 1], [0, 0, 0, 0, 0], [1, 0, 0, 0, 0]]
    with pytest.raises(InputError, match="must be 0/1"):
        canonical_predictions(multi, selection, np.full((3, 5), 2))
    with pytest.raises(InputError, match="expected 5 columns"):
        canonical_predictions(multi, selection, np.zeros((3, 4)))
    emg = load_protocol("casmemg-emg-interval")
    out = canonical_predictions(emg, selection, [(1.0, 1.2), None, (2.0, 2.5)])
    assert np.isnan(out["onset_s"].iloc[1]) and out["offset_s"].iloc[2] == 2.5
    with pytest.raises(InputError, match="onset_s > offset_s"):
        canonical_predictions(emg, selection, np.array([[1.0, 0.5], [1, 2], [1, 2]]))


def test_a_record_is_json(tmp_path):
    corpus = support.casme2_like(tmp_path, frames=False)
    record = run_protocol("casme2-loso-5class", corpus, "test_runner_support:Majority", cache=tmp_path / "cache",
                          progress=False).record
    text = json.dumps(record, allow_nan=False)
    assert json.loads(text)["submission"]["model"]["name"] == "majority"
    assert record["submission"]["model"]["source"] == "import"


def test_extractors_never_see_labels(tmp_path):
    from mebench.cache import FeatureCache

    seen = []

    class Peek:
        name, version, params = "peek", "1", {}

        def __call__(self, view, row):
            seen.append((sorted(row.index), hasattr(view, "labels"), view.role, list(view.samples.columns)))
            return np.zeros(1)

    samples = pd.DataFrame({"sample_id": ["a", "b"], "aus": [[1], [4]], "emotion": ["happiness", "disgust"],
                            "emo_4dme": [["positive"], ["negative"]], "label": ["happiness", "disgust"]})
    for cache in (None, FeatureCache(tmp_path / "c")):
        seen.clear()
        train = View(samples, role="train", protocol=facts(), labels=samples["label"], cache=cache)
        assert train.extract(Peek()).shape == (2, 1)
        for columns, has_labels, role, view_columns in seen:
            assert columns == ["aus", "sample_id"] and view_columns == ["sample_id", "aus"]
            assert not has_labels and role == "features"
