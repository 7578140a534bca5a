"""Runs nnbatch exports in their real consumers and compares them with `nnbatch predict`.

Usage (from ExportTests, with the test environment's Python, .venv-test/bin/python3):
  check_export.py CASES.json [--keras-only]

KERAS_BACKEND picks Keras's backend (default jax); --keras-only skips onnxruntime, for a
second run on another backend.

CASES.json is a list of cases, each {"name", "inputs", "expected", "shape", "onnx", "keras"}
("onnx" and "keras" optional): "inputs" a CSV of raw input rows (no header), one flattened
sample per row; "shape" one sample's shape ([4], or [1, 6, 6] for channels-first images);
"expected" what `nnbatch predict --input INPUTS` printed for the same rows. One process
checks every case, so onnxruntime and Keras are imported once. Every output value a must match predict's b
within |a - b| <= 1e-5 * |b| + 1e-6; ONNX's label output, and the class Keras's probabilities
pick, must equal predict's label column; ONNX's metadata must carry the nnbatch version and the
class labels.

A case with "tabular": true is a model trained with data.categorical / data.missing: "inputs"
is then a CSV with a header, the raw feature columns as the training CSV gives them (text
categories, empty cells and missing markers). The check feeds ONNX the numeric columns as one
float tensor "input" (NaN where missing) and each categorical column's trimmed text as a string
tensor [N, 1] named after it; Keras the same numeric tensor and each categorical column as int32
codes from metadata.json's "columns" (a category's index, "unseen_code", "missing_code").
Prints one line per check and exits 1 on the first mismatch.
"""

import csv
import json
import os
import sys

RTOL, ATOL = 1e-5, 1e-6

# pandas' default na_values, as nnbatch reads CSV cells (after trimming white space).
MISSING = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
           "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}


def tabular_feeds(np, path, columns, codes):
    """The raw CSV at path as the exported model's inputs, after its metadata "columns"."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))[1:]
    numeric = [c for c in columns if c["kind"] == "numeric"]
    feeds = {}
    if numeric:
        def number(text):
            text = text.strip()
            return np.nan if text in MISSING else float(text)
        feeds["input"] = np.array([[number(r[c["position"]]) for c in numeric] for r in rows], dtype=np.float32)
    for c in columns:
        if c["kind"] != "categorical":
            continue
        cells = [r[c["position"]].strip() for r in rows]
        if codes:
            def code(text):
                if text in MISSING:
                    return c["missing_code"]
                return c["categories"].index(text) if text in c["categories"] else c["unseen_code"]
            feeds[c["input"]] = np.array([[code(t) for t in cells]], dtype=np.int32).reshape(-1, 1)
        else:
            feeds[c["input"]] = np.array(cells, dtype=object).reshape(-1, 1)
    return feeds


def read_expected(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    if header[0] == "label":
        labels = [r[0] for r in body]
        values = [[float(v) for v in r[1:]] for r in body]
        classes = [h[2:] for h in header[1:]] if len(header) > 2 else None  # one sigmoid: "p_<positive class>"
        return header, labels, values, classes
    return header, None, [[float(v) for v in r] for r in body], None


def compare(np, name, got, want):
    """Fails unless every value of got is within the bound of want's."""
    got = np.asarray(got, dtype=np.float64).reshape(want.shape)
    error = np.abs(got - want)
    bound = RTOL * np.abs(want) + ATOL
    worst = float(np.max(error / bound)) if error.size else 0.0
    print(f"{name}: {want.shape[0]} rows, max |a-b| = {float(np.max(error)):.3g}, "
          f"worst error / bound = {worst:.3g}")
    if not np.all(error <= bound):
        i = np.unravel_index(int(np.argmax(error / bound)), error.shape)
        sys.exit(f"{name}: output {i} is {got[i]!r}, predict says {want[i]!r}")


def check(np, case, keras_only):
    name = case["name"]
    shape = tuple(case["shape"])
    tabular = case.get("tabular", False)
    if not tabular:
        x = np.loadtxt(case["inputs"], delimiter=",", dtype=np.float32, ndmin=2)
        x = x.reshape((x.shape[0],) + shape)
    header, labels, values, classes = read_expected(case["expected"])
    want = np.asarray(values, dtype=np.float64)

    if case.get("onnx") and not keras_only:
        import onnx
        import onnxruntime as ort

        model = onnx.load(case["onnx"])
        onnx.checker.check_model(model, full_check=True)
        meta = {p.key: p.value for p in model.metadata_props}
        if not meta.get("nnbatch_version"):
            sys.exit(f"{name}: onnx metadata_props has no nnbatch_version: {meta}")
        if classes is not None and json.loads(meta.get("labels", "null")) != classes:
            sys.exit(f"{name}: onnx metadata labels {meta.get('labels')} differ from predict's {classes}")
        session = ort.InferenceSession(case["onnx"], providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        if tabular:
            domains = {o.domain: o.version for o in model.opset_import}
            if "ai.onnx.ml" not in domains or "" not in domains:
                sys.exit(f"{name}: onnx opset_import lacks ai.onnx.ml or the default domain: {domains}")
            feeds = tabular_feeds(np, case["inputs"], json.loads(meta["columns"]), codes=False)
        else:
            feeds = {"input": x}
        outputs = dict(zip(names, session.run(None, feeds)))
        compare(np, f"{name}: onnxruntime {ort.__version__}", outputs["output"], want)
        if labels is not None:
            got = [v.decode() if isinstance(v, bytes) else str(v) for v in outputs["label"]]
            if got != labels:
                sys.exit(f"{name}: onnx labels {got[:8]} differ from predict's {labels[:8]}")
            print(f"{name}: onnx label output matches predict's {len(got)} labels")

    if case.get("keras"):
        import zipfile

        import keras

        with zipfile.ZipFile(case["keras"]) as archive:
            bad = archive.testzip()
            if bad is not None:
                sys.exit(f"{name}: {case['keras']}: entry {bad} fails its CRC")
            meta = json.loads(archive.read("metadata.json"))
        if classes is not None and meta.get("labels") != classes:
            sys.exit(f"{name}: keras metadata labels {meta.get('labels')} differ from predict's {classes}")
        model = keras.saving.load_model(case["keras"])
        feeds = tabular_feeds(np, case["inputs"], meta["columns"], codes=True) if tabular else x
        got = model.predict(feeds, verbose=0)
        compare(np, f"{name}: keras {keras.__version__} ({keras.backend.backend()})", got, want)
        if labels is not None:
            # The label predict prints: the first most probable class, or p >= 0.5 for one sigmoid output.
            names = meta.get("labels") or classes or ["0", "1"]
            if got.shape[1] == 1:
                picked = [names[1] if p >= 0.5 else names[0] for p in got[:, 0]]
            else:
                picked = [names[i] for i in np.argmax(got, axis=1)]
            if picked != labels:
                sys.exit(f"{name}: keras labels {picked[:8]} differ from predict's {labels[:8]}")
            print(f"{name}: keras labels match predict's {len(picked)} labels")


def main():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import numpy as np

    with open(sys.argv[1]) as f:
        cases = json.load(f)
    keras_only = "--keras-only" in sys.argv[2:]
    for case in cases:
        check(np, case, keras_only)
    print(f"export check passed: {len(cases)} cases")


if __name__ == "__main__":
    main()
