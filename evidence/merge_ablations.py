"""Pools ablation JSON files (`python -m mmtl_tf.ablation ... --output=X`) into one table.

Usage (from the repository root):
    python evidence/merge_ablations.py OUTPUT INPUT.json [INPUT.json...]
writes OUTPUT.json (every input's runs) and OUTPUT.md (mean ± std over all of them), with the
library's own `ablation.summarize` and `ablation.render_markdown`, so the pooled table reads as
one ablation over every run. Used for the RAVDESS grid, whose seeds were ablated in separate
sessions (evidence/README.md).
"""

import json
import sys

from mmtl_tf import ablation, atomic_files


def _setting_order(item):
    """Sort key of a ("<optimizer> x<steps>" or "none", scores) pair."""
    name = item[0]
    if name == "none":
        return (0, "", 0)
    optimizer, steps = name.split(" x")
    return (1, {"sgd": "0", "adam": "1"}.get(optimizer, optimizer), int(steps))


def main(output, inputs):
    """Writes OUTPUT.json and OUTPUT.md pooling the runs of the INPUT files."""
    documents = [json.load(open(path, encoding="utf-8")) for path in inputs]
    corpora = {document["corpus"] for document in documents}
    if len(corpora) != 1:
        raise SystemExit(f"error: the inputs come from several corpora: {sorted(corpora)}")
    runs = [run for document in documents for run in document["runs"]]
    for run in runs:  # table order, as the command writes it: none, then sgd, then adam by steps
        run["scores"] = dict(sorted(run["scores"].items(), key=_setting_order))
    summary = ablation.summarize(runs)
    with_test = any(score.get("test") is not None for run in runs
                    for score in run["scores"].values())
    pooled = {"corpus": corpora.pop(), "inputs": list(inputs), "runs": runs, "summary": summary}
    atomic_files.write_json(f"{output}.json", pooled)
    atomic_files.write_text(f"{output}.md", ablation.render_markdown(summary, pooled["corpus"],
                                                                     with_test))
    print(f"wrote {output}.json and {output}.md ({len(runs)} runs)")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2:])
