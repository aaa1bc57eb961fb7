"""The tracking service's problem codes (tracking students' progress, awards and evaluations); none yet.

Add each code here before the service raises it, in one `codes` call (the package's
docstring shows one), with its status, English and Chinese titles and messages:

    from shared.catalogue import codes
    from shared.catalogue import define as _e

    codes({
        "tracking_example_code": _e(409, "Title", "标题", "Message with {param}.", "含 {param} 的说明。"),
    })

A code another module registered already is refused when the package is imported: pick a
new one, or raise the existing code if it means the same thing.
"""
