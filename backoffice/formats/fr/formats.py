# French as the donor summaries print it (Django's own French formats fill in the rest). Groups of
# thousands are set apart by a no-break space (U+00A0), so that a figure never breaks across lines:
# reportlab's paragraphs break at a narrow no-break space (U+202F) as at any space, but not at this one.
DATE_FORMAT = "j F Y"
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "\xa0"
NUMBER_GROUPING = 3
