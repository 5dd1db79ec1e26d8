"""The import drawing of BUILD.md "Layout", checked on the source: which module may import which.

The graph is read with `ast` from every module of the package (imports inside functions count:
they are dependencies too), so the test needs no TensorFlow and sees what a reader of the code sees.
That importing a corpus reader loads no TensorFlow at run time is checked in test_audio.py.
"""

import ast
import os

import pytest

from conftest import REPO

PACKAGE = os.path.join(REPO, "mmtl_tf")
# Entry points: `python -m mmtl_tf.<name>`; nothing in the library may import them.
CLI_MODULES = {"mmtl_tf.main", "mmtl_tf.prepare", "mmtl_tf.export_cli", "mmtl_tf.export.__main__",
               "mmtl_tf.predict", "mmtl_tf.report", "mmtl_tf.sweep", "mmtl_tf.ablation",
               "mmtl_tf.bench.__main__", "mmtl_tf.bench.run"}
# Reading and storing data knows nothing of how a model is trained.
DATA_PREFIXES = ("mmtl_tf.corpora", "mmtl_tf.features", "mmtl_tf.audio", "mmtl_tf.tfrecords",
                 "mmtl_tf.tfrecord_dir", "mmtl_tf.episodes", "mmtl_tf.preparation", "mmtl_tf.labels",
                 "mmtl_tf.shard_writer", "mmtl_tf.preparation_stream",
                 "mmtl_tf.preparation_summary",
                 "mmtl_tf.shard_reader", "mmtl_tf.folds", "mmtl_tf.episode_plan",
                 "mmtl_tf.done_records", "mmtl_tf.wav_pieces")
TRAINING_PREFIXES = ("mmtl_tf.algorithms", "mmtl_tf.training", "mmtl_tf.evaluation",
                     "mmtl_tf.experiments", "mmtl_tf.models")


def module_name(path: str) -> str:
    """mmtl_tf/corpora/iemocap.py -> mmtl_tf.corpora.iemocap (a package's __init__ -> the package)."""
    relative = os.path.relpath(path, REPO)[:-len(".py")].replace(os.sep, ".")
    return relative.removesuffix(".__init__")


def package_modules() -> dict:
    """{module name: source path} for every module of mmtl_tf."""
    modules = {}
    for folder, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                modules[module_name(path)] = path
    return modules


def imported_modules(path: str, modules: dict) -> set:
    """The package modules that the module at `path` imports (`from a import b` counts a.b if it
    is a module, else a)."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    is_package = path.endswith("__init__.py")
    own = module_name(path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parts = own.split(".")
                anchor = parts if is_package else parts[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules else base)
    return {name for name in found if name in modules and name != own}


@pytest.fixture(scope="module")
def graph():
    modules = package_modules()
    return {name: imported_modules(path, modules) for name, path in modules.items()}


def test_the_graph_is_read_from_the_source(graph):
    # A broken reader would make every rule below pass vacuously.
    assert len(graph) > 40
    assert "mmtl_tf.training" in graph["mmtl_tf.experiments"]
    assert "mmtl_tf.labels" in graph["mmtl_tf.corpora.ravdess"]


def find_cycle(graph: dict):
    """One import cycle as a list of modules, or None (depth-first search)."""
    state = {}

    def visit(name, stack):
        state[name] = "open"
        stack.append(name)
        for target in sorted(graph.get(name, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target, stack)
                if cycle:
                    return cycle
        state[name] = "done"
        stack.pop()
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = visit(name, [])
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_cycle(graph):
    # A package's __init__ importing its own submodules is not a cycle of concerns.
    edges = {name: {target for target in targets if not name.startswith(target + ".")}
             for name, targets in graph.items()}
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


def test_no_library_module_imports_a_command_line_module(graph):
    offenders = {name: sorted(targets & CLI_MODULES) for name, targets in graph.items()
                 if name not in CLI_MODULES and targets & CLI_MODULES}
    assert not offenders, offenders


def test_data_modules_import_no_training_code(graph):
    offenders = {name: sorted(t for t in targets if t.startswith(TRAINING_PREFIXES))
                 for name, targets in graph.items() if name.startswith(DATA_PREFIXES)}
    offenders = {name: targets for name, targets in offenders.items() if targets}
    assert not offenders, offenders


# BUILD.md "Layout": a module may import its own layer and the layers below it.
LAYERS = (
    ("shared facts", ("mmtl_tf.labels", "mmtl_tf.atomic_files", "mmtl_tf.directory_lock",
                      "mmtl_tf.config", "mmtl_tf.corpus_notes")),
    ("data", ("mmtl_tf.corpora", "mmtl_tf.audio", "mmtl_tf.features", "mmtl_tf.tfrecords",
              "mmtl_tf.tfrecord_dir", "mmtl_tf.shard_writer", "mmtl_tf.preparation",
              "mmtl_tf.shard_reader", "mmtl_tf.folds", "mmtl_tf.episode_plan",
              "mmtl_tf.preparation_stream", "mmtl_tf.preparation_summary", "mmtl_tf.done_records",
              "mmtl_tf.episodes", "mmtl_tf.wav_pieces")),
    ("models and algorithms", ("mmtl_tf.models", "mmtl_tf.algorithms", "mmtl_tf.distribution")),
    ("experiments and outputs", ("mmtl_tf.experiments", "mmtl_tf.training", "mmtl_tf.evaluation",
                                 "mmtl_tf.summaries", "mmtl_tf.schedule", "mmtl_tf.export",
                                 "mmtl_tf.trained_model", "mmtl_tf.checkpoints", "mmtl_tf.run_dir",
                                 "mmtl_tf.reporting", "mmtl_tf.report_rendering",
                                 "mmtl_tf.report_summary", "mmtl_tf.report_variants",
                                 "mmtl_tf.results_file", "mmtl_tf.confusion_plot",
                                 "mmtl_tf.export_format")),
)


def layer_of(module: str):
    """Index of the layer holding `module` (None for commands and the flag layer: the top)."""
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            if module.startswith("mmtl_tf.export") and module in CLI_MODULES:
                return None
            return index
    return None


def test_imports_point_down_the_layers_of_build_md(graph):
    offenders = []
    for name, targets in graph.items():
        own = layer_of(name)
        for target in targets:
            if own is not None and (layer_of(target) is None or layer_of(target) > own):
                offenders.append(f"{name} -> {target}")
    assert not offenders, offenders


def reachable(graph: dict, module: str) -> set:
    """Every package module that importing `module` can load (the closure of its imports)."""
    seen, stack = set(), [module]
    while stack:
        for target in graph.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def test_run_records_are_read_without_training_code(graph):
    # `report` and `export` read config.json through run_dir; it must not pull in the models.
    assert "mmtl_tf.config" in reachable(graph, "mmtl_tf.run_dir")  # the closure is real
    offenders = sorted(target for target in reachable(graph, "mmtl_tf.run_dir")
                       if target.startswith(TRAINING_PREFIXES))
    assert not offenders, offenders

