# French as the donor summaries print it (Django's own French formats fill in the rest). Groups of
# thousands are set apart by a narrow no-break space (U+202F), as the Imprimerie nationale's rules
# and the EU's style guide ask: the embedded DejaVu fonts draw it, and a line never breaks inside a
# figure.
DATE_FORMAT = "j F Y"
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "\u202f"
NUMBER_GROUPING = 3
