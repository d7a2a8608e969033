"""Weekly order report."""


def top_item(orders):
    counts = {}
    for o in orders:
        counts[o] = counts.get(o, 0) + 1
    ranked = sorted(counts, key=counts.get, reverse=True)
    return ranked[0]  # BUG: IndexError when there are no orders


def main(orders):
    print("top item:", top_item(orders))
