"""Fixed-width text tables of benchmark rows."""
from typing import List, Sequence


def format_table(rows: List[dict], columns: Sequence[tuple]) -> str:
    """Render ``rows`` (dicts) as a table.

    Args:
        rows (list[dict]): One dict per row.
        columns (Sequence[tuple]): ``(key, header, format)``, e.g.
            ``('impl', 'impl', '<26')`` or ``('best', 'img/s', '10.2f')``;
            missing or None values print as ``-``.

    Returns:
        str: The header line and one line per row.
    """

    def cell(value, fmt):
        width = ''.join(c for c in fmt.split('.')[0] if c.isdigit())
        if value is None:
            return format('-', '>' + width)
        return format(value, fmt)

    def header(text, fmt):
        width = ''.join(c for c in fmt.split('.')[0] if c.isdigit())
        return format(text, ('<' if fmt.startswith('<') else '>') + width)

    lines = [' '.join(header(h, f) for _, h, f in columns)]
    for row in rows:
        lines.append(' '.join(cell(row.get(k), f) for k, _, f in columns))
    return '\n'.join(lines)
