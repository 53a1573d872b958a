"""CSV export of the notes, with a summary line: loaded only by the /api/notes.csv route."""

import csv
import io
import statistics


def as_csv(notes: list) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["title", "text"])
    for note in notes:
        writer.writerow([note["title"], note["body"]])
    lengths = [len(note["body"]) for note in notes] or [0]
    writer.writerow(["mean text length", f"{statistics.mean(lengths):.1f}"])
    return out.getvalue()
