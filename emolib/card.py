"""The model cards of the shipped networks, and the cost they state, written from results files alone.

The shipped network's card is the template ``emolib/templates/MODEL_CARD.md.tmpl`` (:class:`string.Template`),
filled by :func:`card_fields` from its ``results.json`` entry; its **Compute** line (:func:`compute_line`) adds up
each run's training, its teachers' targets, the shipping's own time and each teacher's own core-hours (``compute`` in
results.json). The class network's card (notebook 03's, ``assets/class_run/MODEL_CARD.md``) is the template
``emolib/templates/CLASS_MODEL_CARD.md.tmpl``, filled by :func:`class_card_fields` from the benchmark's results
(``benchmark.json``), the run's ``config.json`` and the shipped network's results.json entry. Imported by
:mod:`emolib.ship` alone.

Example
-------
>>> cores_in("2-core x86_64 CPU (no GPU)")
2
"""
from __future__ import annotations

import json
import re
import string
from pathlib import Path

from .views import VIEW_BUDGET_MS

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: The model card's text, with ``$name`` fields (:func:`card_fields`).
CARD_TEMPLATE = TEMPLATES / "MODEL_CARD.md.tmpl"
#: The class network's model card, with ``$name`` fields (:func:`class_card_fields`).
CLASS_CARD_TEMPLATE = TEMPLATES / "CLASS_MODEL_CARD.md.tmpl"
#: Words for the test-time views inside the shipped file.
TTA_WORDS = {2: "the face and its mirror image",
             6: "the face, the face moved 3 pixels down-right and 3 pixels up-left, and the mirror image of each "
                "(so the shifts cover all four diagonal directions)"}


def shipped_times(s: dict) -> dict[str, float]:
    """The shipped file's times per face (batch of 1), each stored once, in ``tta_candidates``: ``litert`` and
    ``keras`` for the file's views, ``network`` for the network alone in Keras.

    >>> shipped_times({"tta_views": 2, "tta_candidates": {"1": {"latency_ms_keras": 5.0, "latency_ms_litert": 0.7},
    ...                                                 "2": {"latency_ms_keras": 9.0, "latency_ms_litert": 1.0}}})
    {'litert': 1.0, 'keras': 9.0, 'network': 5.0}
    """
    timed, alone = s["tta_candidates"][str(s["tta_views"])], s["tta_candidates"]["1"]
    return dict(litert=timed["latency_ms_litert"], keras=timed["latency_ms_keras"], network=alone["latency_ms_keras"])


def litert_card_line(info: dict, times: dict[str, float]) -> str:
    """The model card's **LiteRT copy** line, from the figures :func:`ship_litert` measured and the file's
    :func:`shipped_times`."""
    return (f"* **LiteRT copy** (`emonet.tflite`, {info['size_mb']} MB): the same network exported with "
            f"`emolib.models.export_litert(..., quantize=True)` ({info.get('quantization', 'float32')}: weights "
            f"stored as 8-bit integers, activations quantized on the fly); `emolib.predict` runs it by default "
            f"(`LiteRTModel`, no TensorFlow import). PublicTest {info['public_test']:.2%} (the Keras file: "
            f"{info.get('public_test_keras', float('nan')):.2%}), PrivateTest {info['private_test']:.2%}; the top "
            f"class is the Keras file's for {info.get('same_top_class_public_test', float('nan')):.2%} of PublicTest "
            f"faces, and probabilities differ by at most {info['max_prob_diff_public_test']:g}. Time per face "
            f"(batch of 1, {info['num_threads']} threads): {times['litert']} ms, against {times['keras']} ms "
            f"for the Keras file, both measured on {info.get('measured_on', 'this machine')}.\n")


def cores_in(text: str | None) -> int | None:
    """The number of cores a hardware description names ("2 cores, AMD EPYC", "2-core x86_64 CPU"), or None.

    >>> cores_in("2-core x86_64 CPU (no GPU)"), cores_in("16 cores, Intel Xeon"), cores_in("a GPU")
    (2, 16, None)
    """
    import re

    m = re.search(r"(\d+)[- ]cores?\b", text or "")
    return int(m.group(1)) if m else None


def run_compute(run: Path, shipped: dict | None = None, seen: frozenset = frozenset()) -> dict:
    """What a finished run recorded about its cost: training seconds (every epoch logged, the parts of a resumed
    run included, else this call's wall time), the seconds its teachers' targets took, its cores, and each
    teacher's own cost (:func:`teacher_compute`)."""
    res = json.loads((run / "result.json").read_text())
    cfg = json.loads((run / "config.json").read_text()) if (run / "config.json").is_file() else res.get("config", {})
    init = cfg.get("init_from")  # a fine-tuned run: the network it started from counts too
    return dict(run=str(run), training_s=float(res.get("train_time_s") or res["wall_time_s"]),
                teacher_targets_s=float(res.get("teacher_targets_s") or 0.0), cores=res.get("cores"),
                teachers=[teacher_compute(t, shipped, seen) for t in cfg.get("teachers") or []],
                init=teacher_compute({"teacher": init["model"], "sha256": init["sha256"]}, shipped, seen)
                if init else None)


def teacher_compute(teacher: dict, shipped: dict | None = None, seen: frozenset = frozenset()) -> dict:
    """A teacher's core-hours (``{"teacher", "sha256", "core_hours", "source"}``; ``core_hours`` None when not recorded):
    the network shipped before when the teacher's sha256 is that of ``shipped["sha256"]`` (its results.json
    entry, ``shipped["entry"]``, and hardware, ``shipped["hardware"]``), else the run folder holding the teacher
    file (its ``result.json``, and its own teachers in turn)."""
    sha, name = teacher.get("sha256"), teacher.get("teacher", "?")
    if shipped and sha and sha == shipped.get("sha256"):
        total = compute_summary(shipped["entry"], shipped["hardware"])["core_hours"]
        return dict(teacher=name, sha256=sha, core_hours=total, source="the network shipped before (its results.json entry)")
    folder = Path(name).parent
    if sha not in seen and (folder / "result.json").is_file():
        rc = run_compute(folder, shipped, seen | {sha})
        total = compute_summary({"compute": dict(runs=[rc], shipping_s=None)}, "")["core_hours"]
        return dict(teacher=name, sha256=sha, core_hours=total, source=f"{folder}/result.json")
    return dict(teacher=name, sha256=sha, core_hours=None, source="not recorded")


def _recorded_cost(c: dict) -> tuple[float, float, set, list[str], list[dict], list[dict]]:
    """From ``compute`` as :func:`ship_runs` records it: wall seconds, own core-seconds, core counts, words,
    teachers and starting networks."""
    runs = c["runs"]
    wall = max(r["training_s"] + r["teacher_targets_s"] for r in runs)  # runs side by side count once
    core_s = sum((r["training_s"] + r["teacher_targets_s"]) * (r["cores"] or 1) for r in runs)
    cores = {r["cores"] for r in runs}
    targets = sum(r["teacher_targets_s"] for r in runs)
    parts = [f"training {max(r['training_s'] for r in runs) / 60:.1f} min"
             + (" (runs side by side)" if len(runs) > 1 else "")
             + (f", the teachers' targets {targets / 60:.1f} min" if targets else "")]
    if c.get("shipping_s") is not None:
        wall += c["shipping_s"]
        core_s += c["shipping_s"] * c["shipping_cores"]
        cores.add(c["shipping_cores"])
        bn = f", precise BatchNorm {c['precise_bn_s'] / 60:.1f} min of it" if c.get("precise_bn_s") else ""
        parts.append(f"`python -m emolib ship` {c['shipping_s'] / 60:.1f} min (weight selection{bn}, test-time "
                     f"views, export)")
    else:  # shipped before the shipping was timed: its precise BatchNorm alone was
        if c.get("precise_bn_s"):
            wall += c["precise_bn_s"]
            core_s += c["precise_bn_s"] * c["precise_bn_cores"]
            cores.add(c["precise_bn_cores"])
            parts.append(f"precise BatchNorm {c['precise_bn_s'] / 60:.1f} min")
        parts.append("weight selection, test-time views and export not recorded")
    return (wall, core_s, cores, parts, [t for r in runs for t in r["teachers"]],
            [r["init"] for r in runs if r.get("init")])


def compute_summary(s: dict, hardware: str) -> dict:
    """Wall-clock hours and core-hours behind a shipped model, from its results.json entry ``s``.

    Uses ``s["compute"]``, written by :func:`ship_runs` (each run's training and teacher-target seconds and cores,
    the shipping's own seconds and cores, each teacher's core-hours). Runs trained side by side count once in the
    wall clock, each in the core-hours. Returns ``wall_h`` (this model's own steps), ``core_hours`` (teachers
    included, None when a teacher's is not recorded), ``cores`` (a set of the core counts seen) and ``parts``
    (words for the card).
    """
    wall, own_core_s, cores, parts, teachers, starts = _recorded_cost(s["compute"])
    # a network that is both a teacher and the starting point (or teaches twice) counts once
    unique = {t.get("sha256") or t["teacher"]: t["core_hours"] for t in teachers + starts}
    known = list(unique.values())
    core_hours = None if None in known else own_core_s / 3600 + sum(known)
    return dict(wall_h=wall / 3600, own_core_hours=own_core_s / 3600, core_hours=core_hours, cores=cores,
                parts=parts, teachers=teachers, starts=starts)


def compute_line(s: dict, hardware: str) -> str:
    """The model card's **Compute** line (:func:`compute_summary`)."""
    c = compute_summary(s, hardware)
    cores = " and ".join(str(n) for n in sorted(c["cores"]))
    text = (f"* **Compute**: {c['wall_h']:.2f} h wall clock on {cores} cores, "
            f"{c['own_core_hours']:.2f} core-hours ({'; '.join(c['parts'])})")
    if not c["teachers"] and not c["starts"]:
        return text + "; no teachers.\n"

    def each(nets: list[dict]) -> str:
        return "; ".join(f"`{t['teacher']}`: " + (f"{t['core_hours']:.2f} core-hours ({t['source']})"
                                                  if t["core_hours"] is not None else "not recorded") for t in nets)

    before = []
    if c["starts"]:
        before.append(f"fine-tuned from {each(c['starts'])}")
    if c["teachers"]:
        before.append(f"distilled from {len(c['teachers'])} teacher(s), {each(c['teachers'])}")
    total = (f"{c['core_hours']:.2f} core-hours in all" if c["core_hours"] is not None
             else "the total is unknown (the cost of a network it learnt from was not recorded)")
    if c["core_hours"] is not None and len(c["teachers"]) + len(c["starts"]) > len(
            {t.get("sha256") or t["teacher"] for t in c["teachers"] + c["starts"]}):
        total += ", each network counted once"
    return text + f"; {'; '.join(before)}: {total}.\n"


def _architecture_fields(s: dict) -> dict:
    """The card's architecture: ``build_emonet``'s arguments, the filters per block, the dropout rates, the size."""
    kwargs = s["config"].get("model_kwargs", {})
    width, drop = kwargs.get("width", 32), kwargs.get("dropout", 0.2)
    n = len(s["members"])
    return dict(build_args=f"width={width}" + (f", dropout={drop:g}" if drop != 0.2 else ""),
                filters=", ".join(str(width * k) for k in (1, 2, 4, 8)), dropout=f"{drop:g}",
                head_dropout=f"{2 * drop:g}", params=f"{s['params']:,}", size_mb=s["size_mb"],
                each=f" in all ({n} networks of {s['members'][0]['params']:,})" if n else "")


def _selection_words(s: dict) -> str:
    """How the weights were chosen on PublicTest: among per-epoch checkpoints, or best against last."""
    if any(k.startswith("epoch-") for k in s["candidate_scores"]):
        return (f"among {len(s['candidate_scores'])} saved sets of weights (the run's `best.keras`, `last.keras` "
                "and per-epoch checkpoints)")
    return "between the run's `best.keras` (best epoch on PublicTest) and `last.keras`"


def _run_lines(s: dict, hardware: str) -> dict:
    """The **Ensemble** line (empty for one network) and the **Training run(s)** line."""
    selection, n = _selection_words(s), len(s["members"])
    if not n:
        return dict(members_line="",
                    run_line=(f"* **Training run**: {s['epochs']} epochs in {s['wall_time_min']} min wall clock. "
                              f"Selection on PublicTest only,\n  {selection}: chosen `{s['chosen']}` (epoch "
                              f"{s['best_epoch']}).\n  Hardware: {hardware}."))
    single = s["without_tta_inside"]
    runs = "; ".join(f"`{m['run']}`: seed {m['seed']}, {m['epochs']} epochs in {m['wall_time_min']} min, "
                     f"chosen `{m['chosen']}` (epoch {m['best_epoch']}), PublicTest {acc:.2%}"
                     for m, acc in zip(s["members"], single["members_public_test"]))
    return dict(members_line=(f"* **Ensemble of {n} networks**: `emolib.models.ensemble` averages the probabilities "
                              f"of {n} emonets trained with the same recipe and different seeds, side by side (one "
                              f"process and one thread each, at the same time). Members: {runs}. PublicTest of the "
                              f"average: {single['public_test']:.2%}.\n"),
                run_line=(f"* **Training runs**: {n} runs at the same time, {s['wall_time_min']} min wall clock (the "
                          f"longer run); each selected on PublicTest only, {selection}.\n  Hardware: {hardware}."))


def _reproduce_words(s: dict) -> str:
    """How to rebuild the shipped network: the two-hour recipe, an ensemble, a distilled or a fine-tuned run."""
    if s["config"].get("init_from"):
        return ("the network it starts from (`make reproduce-2h` for the two-hour one), then the fine-tuning run "
                "with `--init` (`docs/TRAINING.md`, *Fine-tuning*), then `python -m emolib ship run RUN`")
    if s["config"].get("teachers"):
        return ("its teachers first, then the run with `--teacher` and `--distill-alpha` (`docs/TRAINING.md`, "
                "*Knowledge distillation*), then `python -m emolib ship run RUN`")
    if s["members"]:
        return ("`python -m emolib ship run " + " ".join(m["run"] for m in s["members"]) + "` on runs trained "
                "side by side (`python benchmarks/benchmark_recipes.py emonet-bf16-ensemble2-full` trains two)")
    return "`make reproduce` (that is `make reproduce-2h`: `make train-full`, then `make ship`)"


def _views_fields(s: dict) -> dict:
    """The test-time views inside the file (or the time per face without them), and the flip row of the table."""
    views, times = s["tta_views"], shipped_times(s)
    if views == 1:
        return dict(views_line=f"* **Time per face** (batch of 1): {times['keras']} ms.\n",
                    flip_row=f"| PrivateTest with horizontal-flip TTA | {s['private_test_tta']:.2%} |\n")
    others = "; ".join(f"{v} view{'s' * (int(v) > 1)}: {c['public_test']:.2%}, {c['latency_ms_litert']} ms"
                       for v, c in s.get("tta_candidates", {}).items())
    return dict(flip_row="", views_line=(
        f"* **Test-time augmentation inside the model**: the file wraps the {'ensemble' if s['members'] else 'network'} "
        f"in `emolib.models.with_tta(..., flip=True, batched=True)`, which averages the predictions for "
        f"{views} views of each face: {TTA_WORDS.get(views, 'shifted and mirrored copies')}. Candidates "
        f"measured when it shipped (PublicTest accuracy of the Keras file, LiteRT int8 time per face): "
        f"{others}; `--tta auto`, the default of `python -m emolib ship`, ships the most accurate on PublicTest whose "
        f"LiteRT copy classifies a face within {VIEW_BUDGET_MS:g} ms. "
        f"Time per face in Keras (batch of 1): {times['network']} ms for the network alone, "
        f"{times['keras']} ms for the file.\n"))


def _precise_bn_line(s: dict) -> str:
    """The **Precise BatchNorm** line, empty when the step was not tried."""
    bn = s.get("precise_bn")
    if not bn:
        return ""
    return (f"* **Precise BatchNorm** (`emolib.train.recalibrate_batchnorm`): after training, each BatchNormalization "
            f"layer's moving mean and variance were recomputed over the {bn['images']:,} training faces as the network "
            f"sees them at inference (central crop, no augmentation, no dropout) instead of the running averages over "
            f"augmented batches kept in training; {bn['seconds']} s on {bn.get('measured_on', 'this machine')}. "
            f"PublicTest, network alone: {bn['public_test_before']:.2%} before, {bn['public_test_after']:.2%} after; "
            + ("kept." if bn["kept"] else "not kept (no better on PublicTest).") + "\n")


def _recipe_fields(s: dict) -> dict:
    """The training recipe in words: where the weights started, augmentation, mixup, distillation, schedule."""
    config = s["config"]
    init, a, d = config.get("init_from"), config.get("mixup_alpha"), config.get("distill_alpha")
    mix = (f", then mixup in the input pipeline (each face and its label blended with another's of the batch, "
           f"weights drawn from Beta({a}, {a}), `--mixup {a}`)" if a else "")
    if config.get("teachers"):
        ls = config.get("distill_label_smoothing", 0.1)
        mix += (f", and knowledge distillation: each training face's target is {d:g} × its teachers' averaged "
                f"probabilities for the plain face + {1 - d:g} × its label smoothed by {ls:g} (`--teacher`, "
                f"`--distill-alpha {d:g}`; teachers in the Compute line)")
    origin = "trained from scratch"
    if init:
        origin = (f"fine-tuned from `{init['model']}` (sha256 {init['sha256'][:12]}..., a network trained from scratch "
                  "on the same faces; the Compute line counts it), its weights the starting point of the recipe below")
    return dict(
        origin=origin, mix=mix,
        erase=(" + random erasing (a mid-grey patch on about half the crops, `--aug crop40-erase`)"
               if config.get("model_kwargs", {}).get("aug") == "crop40-erase" else ""),
        base_lr=f"{config['base_lr']:.3g}", batch_size=config["batch_size"], warmup_epochs=config["warmup_epochs"],
        epochs=config["epochs"], budget_min=f"{config['budget_s'] / 60 if config['budget_s'] else 0:.0f}",
        seeds=", ".join(str(m["seed"]) for m in s["members"]) if s["members"] else str(s["seed"]),
        bf16_line=("\n  Trained under mixed bfloat16 precision (bfloat16 compute, float32 weights); "
                   "the shipped file computes in float32." if config.get("bf16") or
                   config.get("precision_used") == "bfloat16" else ""),
        reproduce=_reproduce_words(s))


def card_fields(s: dict, hardware: str) -> dict:
    """Every ``$name`` of :data:`CARD_TEMPLATE`, from the shipped model's ``results.json`` entry ``s``."""
    return dict(
        **_architecture_fields(s), **_run_lines(s, hardware), **_views_fields(s), **_recipe_fields(s),
        precise_bn_line=_precise_bn_line(s), litert_line=litert_card_line(s["litert"], shipped_times(s)), sha256=s["sha256"],
        version=s["version"],
        compute_line=compute_line(s, hardware), public_test=f"{s['public_test']:.2%}",
        private_test=f"{s['private_test']:.2%}", private_top2=f"{s['private_top2']:.2%}",
        recall_rows="\n".join(f"| {c} | {r:.1%} |" for c, r in s["private_recall"].items()))


def render_card(s: dict, hardware: str) -> str:
    """MODEL_CARD.md's text for the shipped model's ``results.json`` entry ``s``."""
    return string.Template(CARD_TEMPLATE.read_text(encoding="utf-8")).substitute(card_fields(s, hardware))


def write_card(s: dict, hardware: str, assets: Path) -> Path:
    """Write :func:`render_card` to ``assets/MODEL_CARD.md``; returns its path."""
    path = Path(assets) / "MODEL_CARD.md"
    path.write_text(render_card(s, hardware), encoding="utf-8")
    return path




# --------------------------------------------------------------------------- the class network's card (notebook 03)
def _precision_of(config: dict) -> str:
    """The precision a run computed in, from its ``config.json`` (older runs recorded ``bf16`` instead).

    >>> _precision_of({"precision_used": "float32"}), _precision_of({"bf16": True})
    ('float32', 'bfloat16')
    """
    return config.get("precision_used") or ("bfloat16" if config.get("bf16") else "float32")


def _avx2_words(avx2: dict | None) -> str:
    """The class card's paragraph on a CPU without bfloat16 units, from what the benchmark measured on one."""
    if not avx2:
        return ("\nOn a CPU without bfloat16 units (most laptops) `auto` trains in float32; "
                "`benchmarks/class_recipe.py` has not been run on such a machine yet. Run it there to add its figures "
                "here.\n")
    probe, c = avx2["probe"], avx2["class"]
    return (f"\nOn {avx2['machine']} ({avx2['date']}, {avx2.get('command', '`python benchmarks/class_recipe.py`')}), "
            f"`auto` trains in float32: the class recipe at {probe['class']['float32']:g} images/s "
            f"(bfloat16, emulated there: {probe['class']['bfloat16']:g}), the full recipe at "
            f"{probe['full']['float32']:g} ({probe['full']['bfloat16']:g}); the teacher's pass took "
            f"{c['teacher_s']:.0f} s" + (f", and the class recipe's run {c['train_s'] / 60:.0f} min end to end, "
                                          f"validation included." if c.get("train_s") else
                                          "; its run end to end has not been timed there yet.") + "\n")


def _float32_fields(run: dict | None) -> dict[str, str]:
    """The class card's rows and sentence on the same recipe trained in float32, if such a run was measured."""
    if not run:
        return dict(f32_rows="", f32_words="")
    rows = (f"| PublicTest, the same recipe trained in float32 | {run['public_test']:.2%} | "
            f"{run['public_test_one_view']:.2%} |\n| PrivateTest, the same recipe trained in float32 | "
            f"{run['private_test']:.2%} | {run['private_test_one_view']:.2%} |\n")
    words = (f" The float32 rows: the recipe trained again on the machine above with `ONEDNN_MAX_CPU_ISA=AVX2`, so "
             f"that `precision=\"auto\"` chose float32, as it does on a CPU without bfloat16 units (its run took "
             f"{run['train_s'] / 60:.0f} min, validation included, on a machine shared with other jobs); this card's "
             f"network was chosen over it on PublicTest, before either was measured on PrivateTest.")
    return dict(f32_rows=rows, f32_words=words)


def class_card_fields(bench: dict, config: dict, shipped: dict, identity: dict) -> dict[str, str]:
    """Every ``$name`` of :data:`CLASS_CARD_TEMPLATE`: from ``bench`` (``benchmarks/class_recipe.py``'s results, kept
    as ``class_run/benchmark.json``), the run's ``config`` (its precision), ``shipped``, the shipped network's
    results.json entry (the class network's distance to it on PrivateTest), and ``identity``, the file's SHA-256 and
    the emolib version that shipped it (``class_run/shipped.json``)."""
    c, f, nt, probe, recipe = bench["class"], bench["full"], bench["no_teacher"], bench["probe"], bench["recipe"]
    mk = recipe.get("model_kwargs", {})
    size = mk.get("size", 40)
    return dict(
        recipe_words=(f"{c['epochs']} epochs of all {c['train_images']:,} training faces, batch {recipe['batch_size']}, "
                      f"random 40x40 crops shrunk to {size}x{size}, {list(mk.get('convs', [2, 2, 2, 2]))} conv layers "
                      f"per block, dropout {mk.get('dropout', 0.2)}, warm-up and cosine decay, precision `auto`, seed "
                      f"{recipe['seed']}, teacher `{recipe['teachers']}` with weight {recipe['distill_alpha']}"),
        precision_used=_precision_of(config), run_machine=bench.get("run_machine", "its machine"),
        best_epoch=str(c["best_epoch"]), epochs=str(c["epochs"]),
        public_test=f"{c['public_test']:.2%}", public_one=f"{c['public_test_one_view']:.2%}",
        private_test=f"{c['private_test']:.2%}", private_one=f"{c['private_test_one_view']:.2%}",
        nt_private=f"{nt['private_test']:.2%}", nt_private_one=f"{nt['private_test_one_view']:.2%}",
        nt_source=nt["source"], recalls=", ".join(f"{k} {v:.0%}" for k, v in c["private_recall"].items()),
        **_float32_fields(bench.get("float32_run")),
        machine=bench["machine"], date=bench["date"], precision_timed=bench["precision_used"],
        class_width=str(mk.get("width", 32)), class_size=str(size), class_params=f"{c['params']:,}",
        train_images=f"{c['train_images']:,}", teacher_s=f"{c['teacher_s']:.0f}",
        class_f32=f"{probe['class']['float32']:.0f}", class_bf16=f"{probe['class']['bfloat16']:.0f}",
        class_min=f"{c['train_s_estimate'] / 60:.1f}", full_params=f"{f['params']:,}", full_epochs=str(f["epochs"]),
        full_f32=f"{probe['full']['float32']:.0f}", full_bf16=f"{probe['full']['bfloat16']:.0f}",
        full_min=f"{f['train_s_estimate'] / 60:.1f}", ratio=f"{bench['ratio']:.1f}",
        teacher_min=f"{bench['teacher']['train_min']:.0f}", teacher_epochs=str(bench["teacher"]["epochs"]),
        run_min=f"{c['train_s'] / 60:.1f}", run_cores=str(c["cores"]), avx2_words=_avx2_words(bench.get("avx2")),
        gap=f"{100 * (shipped['private_test'] - c['private_test']):.1f}",
        sha256=identity["sha256"], version=identity["version"])


def render_class_card(bench: dict, config: dict, shipped: dict, identity: dict) -> str:
    """The class network's MODEL_CARD.md text (:func:`class_card_fields`).

    >>> import json
    >>> folder = Path(__file__).resolve().parent / "assets"
    >>> bench, config, identity = (json.loads((folder / "class_run" / n).read_text())
    ...                            for n in ("benchmark.json", "config.json", "shipped.json"))
    >>> shipped = json.loads((folder / "results.json").read_text())["models"][0]
    >>> render_class_card(bench, config, shipped, identity).splitlines()[0]
    '# The class-recipe network (notebook 03)'
    """
    return string.Template(CLASS_CARD_TEMPLATE.read_text(encoding="utf-8")).substitute(
        class_card_fields(bench, config, shipped, identity))


def write_class_card(folder: Path, shipped: dict) -> Path:
    """Write ``folder/MODEL_CARD.md`` for the class run shipped in ``folder`` from its ``benchmark.json``,
    ``config.json`` and ``shipped.json`` (:func:`render_class_card`); returns its path."""
    folder = Path(folder)
    bench, config, identity = (json.loads((folder / name).read_text())
                               for name in ("benchmark.json", "config.json", "shipped.json"))
    path = folder / "MODEL_CARD.md"
    path.write_text(render_class_card(bench, config, shipped, identity), encoding="utf-8")
    return path
