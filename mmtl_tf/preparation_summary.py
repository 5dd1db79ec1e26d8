"""What `preparation.prepare_corpus` prints when it finishes (or finds the work done).

A table of utterances and segments per speaker and emotion class, what the reader excluded,
which auxiliary tasks are rated (and how many segments are not, and a warning when all of a
task's segments share one bin), the folds the sessions make
(warning of a session that cannot be held out) and the preparation's speed.
"""

from mmtl_tf import corpora
from mmtl_tf import labels


def rated_segments(speakers: dict) -> dict:
    """{task: segments with that auxiliary label} over the manifest's speaker entries."""
    return {task: sum(sum(entry["histograms"][task]) for entry in speakers.values())
            for task in labels.AUX_TASKS}


def print_summary(manifest: dict, output_dir: str, seconds: float, computed: int) -> None:
    """Prints utterances and segments per speaker and emotion class, and the exclusions."""
    speakers = manifest["speakers"]
    header = ["speaker", "session", "utterances", "segments", *manifest["class_names"]]
    rows = [[speaker, entry["session"], entry["num_utterances"], entry["num_segments"],
             *entry["histograms"]["emotion"]] for speaker, entry in speakers.items()]
    class_totals = [sum(counts) for counts in
                    zip(*(entry["histograms"]["emotion"] for entry in speakers.values()))]
    rows.append(["total", "", manifest["totals"]["utterances"], manifest["totals"]["segments"],
                 *class_totals])
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    print(f"\ncorpus: {manifest['corpus']} -> {output_dir} (segments per emotion class)")
    for row in [header, *rows]:
        print("  ".join(f"{cell!s:{'<' if column < 2 else '>'}{width}}"
                        for column, (cell, width) in enumerate(zip(row, widths))))
    for name, total in zip(manifest["class_names"], class_totals):
        if total == 0:
            print(f"warning: class {name!r} has no segment: check its spelling in --classes "
                  f"against the corpus' labels (excluded labels are listed below)")
    excluded = ", ".join(f"{reason}: {n}" for reason, n in manifest["excluded"].items())
    print(f"excluded: {excluded or 'none'}; missing files: {len(manifest['missing_files'])}")
    if manifest["corpus"].startswith("csv:") and any(
            reason.startswith("label ") for reason in manifest["excluded"]):
        print("(a label that is a class spelled otherwise takes its class with "
              "--csv_emotion_map=<label>=<class>, e.g. excited=happy)")
    print(f"aux labels available: {manifest['aux_available']}")
    total = manifest["totals"]["segments"]
    for task, rated in rated_segments(speakers).items():
        if 0 < rated < total:
            print(f"{task}: {total - rated} of {total} segments have no rating (marked missing "
                  f"in the corpus); they weigh 0 in the {task} loss")
        bins = [sum(counts) for counts in zip(*(entry["histograms"][task]
                                                 for entry in speakers.values()))]
        if rated > 1 and max(bins) == rated:
            print(f"warning: every rated {task} segment is in bin {bins.index(rated)}, so --aux "
                  f"with {task} learns a constant; check the corpus' {task} scale against the "
                  f"bins (--csv_vad_score_range, --csv_vad_bin_edges for a CSV corpus)")
    sessions = corpora.sessions_of({name: entry["session"] for name, entry in speakers.items()})
    print(f"folds: --fold=1..{len(sessions)}, one per session ({', '.join(sessions)})")
    single = [(fold, session, members[0])
              for fold, (session, members) in enumerate(sessions.items(), 1) if len(members) < 2]
    if len(single) > 5:  # a corpus whose sessions are its speakers: one line, not one per fold
        print(f"warning: {len(single)} of the {len(sessions)} sessions have a single speaker, so "
              f"their folds cannot hold them out (one speaker validates, the others are "
              f"tested): " + ", ".join(f"--fold={fold} (session {session}: {speaker})"
                                       for fold, session, speaker in single)
              + ". Group speakers into sessions of two or more to use them.")
    for fold, session, speaker in single if len(single) <= 5 else ():
        # folds.fold_split refuses to hold it out
        print(f"warning: session {session} has the single speaker {speaker}, so "
              f"--fold={fold} cannot hold it out (one speaker validates, the others are "
              f"tested); it still trains the other folds. Group speakers into sessions of "
              f"two or more to use it.")
    runnable = [str(fold) for fold, members in enumerate(sessions.values(), 1) if len(members) > 1]
    if 1 < len(runnable) < len(sessions):  # experiments.resolve_folds refuses --fold=all
        print(f"so --fold=all is refused; --fold={','.join(runnable)} runs every fold that can "
              f"hold out its session")
    if computed:
        print(f"computed {computed} utterances in {seconds:.1f} s "
              f"({computed / max(seconds, 1e-9):.1f} utterances/s)")
