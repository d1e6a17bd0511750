"""dual-branch (seed 003): eq. 4 pair weights, eq. 6 class weights, WSCL, Region Replacing, the network, fit/predict.

Everything here runs on tiny arrays / a handful of small images made in the test: no synthetic corpus needed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from mebench.baselines import dual_branch as db  # noqa: E402

TINY = dict(widths=(4, 8, 8, 16), region_size=(16, 32), face_size=96, awm_hidden=16, proj_dim=8, batch_size=8,
            sa_groups=2)


# ------------------------------------------------------------------------------------------------- eq. 4 and eq. 6


def test_au_pair_weights_eq4_hand_cases():
    aus = [[1, 2], [2, 1], [4, 7], [1, 4], [], [], [1, 2, 4], [2, 4, 5, 7]]
    w = db.au_pair_weights(aus)
    assert w.shape == (8, 8)
    assert np.allclose(w, w.T)
    assert w[0, 1] == 1.0  # identical sets {1,2} and {1,2}: 2/2
    assert w[0, 0] == 1.0
    assert w[0, 2] == 0.0  # disjoint {1,2} vs {4,7}: 0/4
    assert w[0, 3] == pytest.approx(1 / 3)  # {1,2} vs {1,4}: {1} / {1,2,4}
    assert w[2, 3] == pytest.approx(1 / 3)  # {4,7} vs {1,4}: {4} / {1,4,7}
    assert w[6, 7] == pytest.approx(2 / 5)  # {1,2,4} vs {2,4,5,7}: {2,4} / {1,2,4,5,7}
    assert w[0, 6] == pytest.approx(2 / 3)  # {1,2} vs {1,2,4}
    assert w[4, 5] == 0.0 and w[4, 4] == 0.0 and w[4, 0] == 0.0  # no AUs: empty union -> 0
    # the AU cells of the corpus are numpy arrays (read-only int16)
    cells = [np.array([1, 2], dtype=np.int16), np.array([2], dtype=np.int16)]
    assert db.au_pair_weights(cells)[0, 1] == pytest.approx(0.5)


def test_class_weights_eq6_hand_counts():
    assert db.class_weights([10, 5, 20]).tolist() == [2.0, 4.0, 1.0]  # max(n) / n_c = 20/10, 20/5, 20/20
    # seed 003 Table 2, CASME II three classes (positive 32, negative 90, surprise 25)
    assert db.class_weights([32, 90, 25]) == pytest.approx([90 / 32, 1.0, 90 / 25])
    assert db.class_weights([4, 0, 2]).tolist() == [1.0, 0.0, 2.0]  # a class absent from the fold: weight 0


def test_weighted_ce_eq7_per_head():
    logits = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    target = torch.tensor([0, 0, 1])
    weights = torch.tensor([2.0, 1.0])
    p1 = math.exp(2) / (math.exp(2) + 1)
    p2 = math.exp(1) / (math.exp(1) + 1)
    expected = (2 * -math.log(0.5) + 2 * -math.log(p1) + 1 * -math.log(p2)) / 3
    assert float(db.weighted_ce(logits, target, weights)) == pytest.approx(expected, rel=1e-6)


def test_wscl_eq5_hand_case():
    z = torch.eye(3)  # orthonormal features: every off-diagonal logit is 0, log-softmax over k != i is -log 2
    w = torch.tensor(db.au_pair_weights([[1, 2], [1, 2], [1, 4]]), dtype=torch.float32)
    # anchor 0: w01 = 1, w02 = 1/3 -> (1 + 1/3) log 2 / (4/3) = log 2; likewise for anchors 1 and 2
    assert float(db.wscl_loss(z, w, tau=1.0)) == pytest.approx(math.log(2), rel=1e-6)
    # two samples only: the one other sample takes the whole softmax -> 0
    assert float(db.wscl_loss(torch.eye(2), torch.ones(2, 2), tau=0.07)) == pytest.approx(0.0, abs=1e-6)
    # anchors without any AU overlap are left out; none at all -> 0 (and still differentiable)
    feats = torch.nn.functional.normalize(torch.randn(3, 4), dim=1).requires_grad_(True)
    loss = db.wscl_loss(feats, torch.zeros(3, 3))
    assert float(loss.detach()) == 0.0
    loss.backward()
    # similar pairs closer -> lower loss
    a = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), dim=1)
    b = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]]), dim=1)
    wt = torch.tensor(db.au_pair_weights([[12], [12], [4]]), dtype=torch.float32)
    assert float(db.wscl_loss(a, wt)) < float(db.wscl_loss(b, wt))


# ----------------------------------------------------------------------------------------------- Region Replacing


def test_region_replace_same_class_with_probability_p():
    labels = np.array(["a", "a", "a", "b", "b", "c"])
    batch = np.tile(np.arange(6), 1000)
    donors = db.region_replace(labels, batch, np.random.default_rng(7), p=0.5)
    assert (labels[donors] == labels[batch]).all()  # only within the same class
    assert (donors[batch == 5] == 5).all()  # alone in its class: never replaced
    replaced = donors[batch < 5] != batch[batch < 5]
    assert abs(replaced.mean() - 0.5) < 0.03  # 5000 draws at p = 0.5 (sd 0.007)
    # a donor is another sample: both other 'a's are drawn
    assert set(donors[(batch == 0) & (donors != 0)].tolist()) == {1, 2}
    # seeded: the same generator state gives the same donors
    again = db.region_replace(labels, batch, np.random.default_rng(7), p=0.5)
    assert np.array_equal(donors, again)
    assert np.array_equal(db.region_replace(labels, batch, np.random.default_rng(1), p=0.0), batch)
    always = db.region_replace(labels, batch, np.random.default_rng(1), p=1.0)
    assert (always[batch < 5] != batch[batch < 5]).all()


def test_mixed_aus_of_a_replaced_sample():
    # eyes kept from a sample with AU1+2+12, mouth taken from one with AU4+15+17
    assert db.mix_aus([1, 2, 12], [4, 15, 17]) == frozenset({1, 2, 15, 17})
    assert db.mix_aus([6, 12], [12, 25]) == frozenset({6, 12, 25})


# ------------------------------------------------------------------------------------------------------ network


def test_network_forward_shapes_and_gradients_reach_both_branches():
    torch.manual_seed(0)
    net = db.DualBranchNet(3, 4, widths=(4, 8, 8, 16), awm_hidden=16, proj_dim=8, sa_groups=2)
    eyes, mouth = torch.randn(3, 3, 32, 64), torch.randn(3, 3, 32, 64)
    out = net(eyes, mouth)
    assert out["eyes_logits"].shape == (3, 4) and out["mouth_logits"].shape == (3, 4)
    assert out["fused"].shape == (3, 32) and out["weights"].shape == (3, 32)
    assert out["projection"].shape == (3, 8)
    assert torch.allclose(out["projection"].norm(dim=1), torch.ones(3), atol=1e-5)
    assert ((out["weights"] > 0) & (out["weights"] < 1)).all()  # AWM: sigmoid weights
    assert torch.allclose(out["fused"], torch.cat([out["eyes"], out["mouth"]], 1) * out["weights"])  # eq. 2
    loss = out["eyes_logits"].sum() + out["mouth_logits"].sum() + out["projection"].sum()
    loss.backward()

    def grad_norm(module):
        return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)

    assert grad_norm(net.eyes_branch) > 0 and grad_norm(net.mouth_branch) > 0
    assert grad_norm(net.stem) > 0 and grad_norm(net.base) > 0 and grad_norm(net.awm) > 0
    # the branches do not share weights; the base does
    assert net.eyes_branch[0][0].conv1.weight.data_ptr() != net.mouth_branch[0][0].conv1.weight.data_ptr()
    # the eyes head sees only the eyes half of X_F: the mouth input changes it through AWM only
    net.eval()
    with torch.no_grad():
        a = net(eyes, mouth)
    assert a["eyes_logits"].shape == (3, 4)


def test_paper_configuration_builds_with_table1_shapes():
    c = db.CONFIGS["paper"]
    assert c.widths == (64, 128, 256, 512) and c.awm_hidden == 1024 and c.lam == 0.3 and c.rr_p == 0.5
    assert c.epochs == 100 and c.batch_size == 128 and c.lr == 3e-3 and (c.t0, c.t_mult) == (10, 2)
    net = db.DualBranchNet(3, 5, widths=c.widths, awm_hidden=c.awm_hidden, proj_dim=c.proj_dim)
    x = torch.zeros(1, 3, *c.region_size)
    base = net.base(net.stem(x))
    assert base.shape[1] == 128  # Table 1: base output 128 channels
    assert net.eyes_branch(base).shape == (1, 512)  # Table 1: branch output 512
    assert net.awm[0].in_features == 1024 and net.awm[0].out_features == 1024  # eq. 1: W1 in R^{h x 1024}


# ---------------------------------------------------------------------------------------------- training on arrays


def _toy_arrays(n_per_class=4, seed=0):
    """Raw region inputs (N, 5, 16, 32): class 'up' moves the brows (eyes flow v < 0), 'smile' the mouth corners."""
    rng = np.random.default_rng(seed)
    eyes, mouth, labels, aus = [], [], [], []
    for k in range(2 * n_per_class):
        e = rng.normal(0, 0.05, (5, 16, 32)).astype(np.float32)
        m = rng.normal(0, 0.05, (5, 16, 32)).astype(np.float32)
        e[0] += 0.5
        m[0] += 0.5
        if k % 2 == 0:
            e[2, 2:7, 4:28] -= 1.0  # On-A v: brows up
            labels.append("surprise")
            aus.append([1, 2])
        else:
            m[1, 6:12, 2:8] -= 1.0  # On-A u: corners out
            m[1, 6:12, 24:30] += 1.0
            labels.append("positive")
            aus.append([6, 12])
        eyes.append(e)
        mouth.append(m)
    return np.stack(eyes), np.stack(mouth), labels, aus


def test_tiny_overfit_loss_decreases():
    eyes, mouth, labels, aus = _toy_arrays()
    model = db.DualBranch(seed=0, epochs=30, lr=1e-2, rr_p=0.0, flip_p=0.0, erase_p=0.0, **TINY)
    model.fit_arrays(eyes, mouth, labels, aus)
    first, last = model.history_[0], model.history_[-1]
    assert last["cls"] < 0.2 * first["cls"]
    assert last["loss"] < first["loss"]
    assert model.predict_arrays(eyes, mouth) == labels


def test_fit_restores_torch_settings():
    eyes, mouth, labels, aus = _toy_arrays(2)
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    db.DualBranch(seed=1, epochs=1, **TINY).fit_arrays(eyes, mouth, labels, aus)
    assert torch.get_num_threads() == threads and torch.are_deterministic_algorithms_enabled() == det


# --------------------------------------------------------------------------------- fit/predict on read-only views


def _face_frames():
    """A grey face (the astronaut's, scikit-image) 128 x 128 and two 'expressions' of it."""
    cv2 = pytest.importorskip("cv2")
    data = pytest.importorskip("skimage.data")
    face = cv2.cvtColor(data.astronaut()[40:220, 135:315], cv2.COLOR_RGB2GRAY)
    face = cv2.resize(face, (128, 128), interpolation=cv2.INTER_AREA)
    return face


def _make_views(tmp_path):
    pytest.importorskip("dlib")
    try:
        db.landmark_model_path()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    cv2 = pytest.importorskip("cv2")
    from mebench.views import MediaContext, ProtocolFacts, View

    face = _face_frames()
    rows, labels = [], []
    for k in range(8):
        folder = tmp_path / f"sub{k % 4:02d}" / f"EP{k:02d}"
        folder.mkdir(parents=True)
        apex = face.copy()
        if k % 2 == 0:
            apex[20:60] = np.roll(face[20:60], -2, axis=0)  # upper face up
            label, aus = "surprise", [1, 2]
        else:
            apex[75:115] = np.roll(face[75:115], 2, axis=1)  # lower face sideways
            label, aus = "positive", [12]
        for number, image in ((10, face), (11, apex), (12, face)):
            cv2.imwrite(str(folder / f"img{number}.png"), image)
        rows.append({"sample_id": f"toy/{k}", "dataset": "toy", "subject": f"toy/{k % 4}", "onset": 10,
                     "apex": 11, "offset": 12, "fps": 200.0, "aus": np.array(aus, dtype=np.int16),
                     "frames_dir": str(folder)})
        labels.append(label)
    frame = pd.DataFrame(rows)
    facts = ProtocolFacts(id="toy", version="1", task="recognition", classes=("positive", "surprise"),
                          datasets=("toy",))
    train = View(frame, role="train", protocol=facts, labels=pd.Series(labels), media=MediaContext(None))
    test = View(frame.drop(columns=["aus"]), role="test", protocol=facts, media=MediaContext(None))
    return train, test, frame, facts, labels


def test_fit_predict_on_views_is_deterministic_and_ignores_test_aus(tmp_path):
    from mebench.views import MediaContext, View

    train, test, frame, facts, labels = _make_views(tmp_path)
    kwargs = dict(seed=3, epochs=4, **TINY)
    a = db.DualBranch(**kwargs).fit(train)
    b = db.DualBranch(**kwargs).fit(train)
    pa, pb = a.predict(test), b.predict(test)
    assert len(pa) == len(frame) and set(pa) <= {"positive", "surprise"}
    assert pa == pb
    ea, ma = a._extract(test)
    assert np.array_equal(a.predict_proba_arrays(ea, ma), b.predict_proba_arrays(ea, ma))
    for pa_, pb_ in zip(a.net.state_dict().values(), b.net.state_dict().values()):
        assert torch.equal(pa_, pb_)
    # a test view that does show AUs (recognition protocols do): other AUs change nothing
    scrambled = frame.assign(aus=[np.array([99], dtype=np.int16)] * len(frame))
    shown = View(scrambled, role="test", protocol=facts, media=MediaContext(None))
    assert a.predict(shown) == pa
    # another seed trains another network
    c = db.DualBranch(**{**kwargs, "seed": 4, "epochs": 1}).fit(train)
    assert not np.array_equal(c.predict_proba_arrays(ea, ma), a.predict_proba_arrays(ea, ma))


def test_region_inputs_and_landmarks_on_a_face():
    face = _face_frames()
    pytest.importorskip("dlib")
    try:
        points, how = db.detect_landmarks(face)
    except FileNotFoundError as error:
        pytest.skip(str(error))
    assert points.shape == (68, 2) and how in ("detector", "whole-image")
    boxes = db.region_boxes(points, aspect=2.0)
    for x0, y0, x1, y1 in boxes.values():
        assert (x1 - x0) == pytest.approx(2.0 * (y1 - y0))
    assert boxes["eyes"][1] < boxes["mouth"][1]  # eyes above the mouth
    eyes_centre = (boxes["eyes"][1] + boxes["eyes"][3]) / 2
    assert eyes_centre < points[48:60, 1].min()
    apex = face.copy()
    apex[20:60] = np.roll(face[20:60], -2, axis=0)
    out = db.region_inputs(face, apex, face, region_size=(16, 32), face_size=96, points=points)
    assert out["eyes"].shape == (5, 16, 32) and out["mouth"].shape == (5, 16, 32)
    assert out["eyes"].dtype == np.float32
    assert np.abs(out["eyes"][1:]).mean() > np.abs(out["mouth"][1:]).mean()  # motion where the face moved
    paper = db.model_channels(out["eyes"][None], "paper")
    assert paper.shape == (1, 3, 16, 32)
    assert np.allclose(paper[0, 1], np.hypot(out["eyes"][1], out["eyes"][2]), atol=1e-6)


def test_flip_negates_horizontal_flow_and_halves_mode():
    raw = np.random.default_rng(0).normal(size=(2, 5, 4, 6)).astype(np.float32)
    flipped = db._flip(raw, db.signed_channels("flow"))
    assert np.array_equal(flipped[:, 0], raw[:, 0, :, ::-1])  # apex: mirrored
    assert np.array_equal(flipped[:, 1], -raw[:, 1, :, ::-1])  # u (On-A): mirrored and negated
    assert np.array_equal(flipped[:, 2], raw[:, 2, :, ::-1])  # v: mirrored
    assert np.array_equal(flipped[:, 3], -raw[:, 3, :, ::-1])
    assert db.signed_channels("paper") == ()  # magnitudes do not change sign
    points = np.array([[x, y] for x, y in zip(np.linspace(0, 100, 68), np.linspace(0, 100, 68))])
    halves = db.region_boxes(points, aspect=2.0, mode="halves", face=(0.0, 0.0, 100.0, 100.0))
    assert halves["eyes"] == pytest.approx((0, 0, 100, 50))  # seed 003 3.1.2: upper half
    assert halves["mouth"] == pytest.approx((0, 50, 100, 100))  # lower half
    with pytest.raises(ValueError):
        db.DualBranch(config="huge")


def test_detect_landmarks_falls_back_to_the_whole_image():
    """No face found by face.py's detector (noise): the predictor runs on the whole image, as before."""
    pytest.importorskip("dlib")
    try:
        db.landmark_model_path()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    from mebench.baselines import face as face_module

    assert db.landmark_model_path() == face_module.landmark_model_path()  # one lookup, shared with face.py
    noise = np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)
    points, how = db.detect_landmarks(noise)
    assert how == "whole-image" and points.shape == (68, 2) and points.dtype == np.float32
    rgb = np.repeat(_face_frames()[..., None], 3, axis=2)
    p_grey, how_grey = db.detect_landmarks(_face_frames())
    p_rgb, how_rgb = db.detect_landmarks(rgb)
    assert how_grey == how_rgb and np.array_equal(p_grey, p_rgb)  # RGB -> mean of the channels
